#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "common/unique_fd.hpp"
#include "transports/ble/ble_channel.hpp"

// L2CAP LE credit-based channels emulated on Unix SOCK_SEQPACKET sockets, for tests and for
// daemons on one host without radios. A node listens on <directory>/<its address>.sock and
// opens a channel by connecting to <directory>/<peer>.sock. Each end behaves as the kernel's
// channel does towards the transport: SDUs above the peer's MTU are refused, a sender spends
// one credit per SDU and stops at none, the receiver gives a credit back for each SDU the
// transport reads, and SDUs leave no faster than the rate (airtime below). Credits and the
// connection set-up travel in-band on the same socket and never reach the transport.
namespace fwrescue::ble {

/// Settings of the emulated radio of one node.
struct emulation_config {
  std::string directory;
  device_address address;
  /// The MTU this node receives (offered to peers).
  size_t mtu = 247;
  /// Credits this node grants a peer on each channel: SDUs the peer may send before this node
  /// has read one.
  uint16_t credits = 8;
  uint64_t rate_bps = 500000;
};

/// Bytes on the air for one SDU of `sdu` bytes: the SDU length (2) on the first K-frame, a
/// 4-byte L2CAP basic header per K-frame of at most 247 bytes of payload (the MPS that fills
/// one 251-byte link-layer PDU), and 10 bytes of link-layer framing per PDU (preamble 1,
/// access address 4, header 2, CRC 3; no MIC, the link is not encrypted). Inter-frame spacing
/// and empty polls are not counted: emulated_rate_bps is the rate at which these bytes flow.
uint64_t airtime_bytes(size_t sdu);

/// The radio's time, shared by every channel of one node: SDUs of all channels leave one after
/// another, each taking airtime_bytes() × 8 / rate.
struct airtime {
  uint64_t rate_bps = 500000;
  clock::time_point busy_until{};
};

/// The emulated adapter of one node.
class emulated_adapter : public adapter {
public:
  /// Binds <directory>/<address>.sock, replacing a stale socket file that nobody listens on.
  static caf::expected<std::unique_ptr<emulated_adapter>> open(emulation_config config,
                                                               const std::string& who);

  int listen_fd() const override {
    return listener_.get();
  }
  device_address address() const override {
    return config_.address;
  }
  caf::expected<std::unique_ptr<channel>> accept() override;
  caf::expected<std::unique_ptr<channel>> connect(const device_address& peer) override;

  ~emulated_adapter() override;

private:
  explicit emulated_adapter(emulation_config config);

  emulation_config config_;
  std::string path_;
  unique_fd listener_;
  std::shared_ptr<airtime> air_;
};

/// Where the node with `address` listens under `directory`.
std::string socket_path(const std::string& directory, const device_address& address);

} // namespace fwrescue::ble
