#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/unique_fd.hpp"
#include "transports/ble/ble_channel.hpp"

// L2CAP LE credit-based channels on the kernel's Bluetooth sockets:
// socket(AF_BLUETOOTH, SOCK_SEQPACKET, BTPROTO_L2CAP) with an LE public address and a PSM. The
// kernel does the credits, the segmentation into K-frames and the link layer; a send above the
// peer's MTU fails with EMSGSIZE.
namespace fwrescue::ble {

/// Settings of the real adapter.
struct l2cap_config {
  /// The adapter to bind; nothing binds any adapter (BDADDR_ANY).
  std::optional<device_address> address;
  uint16_t psm = 0x0081;
  /// The MTU asked for (BT_RCVMTU); the peer's (BT_SNDMTU) is read back once a channel is up.
  uint16_t mtu = 247;
};

/// The kernel's L2CAP listener for `psm` on the adapter.
class l2cap_adapter : public adapter {
public:
  /// Opens, binds and listens. On a kernel without Bluetooth the error is "<who>: this kernel
  /// has no Bluetooth support (socket: Address family not supported by protocol)".
  static caf::expected<std::unique_ptr<l2cap_adapter>> open(l2cap_config config,
                                                            const std::string& who);

  int listen_fd() const override {
    return listener_.get();
  }
  device_address address() const override {
    return address_;
  }
  caf::expected<std::unique_ptr<channel>> accept() override;
  caf::expected<std::unique_ptr<channel>> connect(const device_address& peer) override;

private:
  explicit l2cap_adapter(l2cap_config config) : config_(config) {
  }

  l2cap_config config_;
  unique_fd listener_;
  device_address address_;
};

} // namespace fwrescue::ble
