#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "transports/transport.hpp"

namespace fwrescue {

namespace ble {
class io_loop;
} // namespace ble

/// Settings of the Bluetooth LE transport; start() checks them.
struct ble_options {
  /// This node's adapter address ("AA:BB:CC:DD:EE:FF", either case); empty binds any adapter
  /// (real links only: the emulation names its socket after it).
  std::string address;
  /// PSM of the L2CAP LE credit-based channels, in the LE dynamic range 0x0080..0x00FF.
  uint16_t psm = 0x0081;
  /// Addresses of the other nodes: a broadcast datagram goes to each of them.
  std::vector<std::string> peers;
  /// SDU size this node asks for on its channels (BT_RCVMTU), 23..65535.
  uint16_t mtu = 247;
  /// When set, channels are emulated on Unix sockets in this directory instead of the radio.
  std::string emulation;
  /// The emulated link's rate, counting L2CAP and link-layer overhead (docs/ble.md).
  uint64_t emulated_rate_bps = 500000;
  /// SDUs an emulated sender may have unread at the receiver, per channel (LE credits).
  uint16_t emulated_credits = 8;
  /// What peers can make the transport spend.
  session_limits limits;
  /// Names this node in error messages ("ble (node-a): ..."); may be empty.
  std::string node_label;
};

/// The Bluetooth LE transport: L2CAP LE credit-based channels (or their emulation), a channel
/// per session and a channel per peer for datagrams, opened on demand and closed when idle.
/// Messages are cut into SDUs of the peer's MTU (transports/ble/ble_sdu.hpp). One thread polls
/// every channel; the other methods queue work for it and return at once.
///
/// Addresses are device addresses, "AA:BB:CC:DD:EE:FF", upper-case on output. An inbound
/// session is reported once its channel has named its kind (its first SDU), so a connection
/// that never does costs a descriptor until the handshake deadline and no event.
///
/// Before start() and after stop(), calls are harmless: datagrams are dropped (and counted),
/// frames and closes are ignored, and open_session() returns an id that gets no event.
class ble_transport : public transport {
public:
  explicit ble_transport(ble_options options);
  ble_transport(const ble_transport&) = delete;
  ble_transport& operator=(const ble_transport&) = delete;
  /// Stops the transport; must not run on the transport's own thread (in an event handler).
  ~ble_transport() override;

  /// kind "ble"; nominal_rate_bps is the emulated rate, or 500000 on a real link.
  link_properties properties() const override;

  /// Checks the options, opens the adapter (or the emulation's socket) and starts the thread.
  /// On a kernel without Bluetooth: "ble: this kernel has no Bluetooth support (socket:
  /// Address family not supported by protocol)". A stopped transport may be started again.
  caf::error start(transport_events& events) override;

  /// Joins the thread and closes every channel. Called from an event handler, it only makes
  /// the thread stop delivering events and exit; a later stop() or the destructor joins it.
  void stop() override;

  /// This node's device address; empty while stopped.
  std::string session_address() const override;

  /// Datagrams above 1400 bytes are dropped and counted, as are ones that cannot be sent.
  void broadcast(std::vector<uint8_t> datagram) override;
  void send_datagram(const std::string& to, std::vector<uint8_t> datagram) override;

  /// `address` is a device address; a malformed one gets on_session_closed naming it.
  session_id open_session(const std::string& address) override;

  /// A frame above 256 KiB closes the session with "frame of N bytes exceeds the
  /// 262144-byte limit".
  void send_frame(session_id id, std::vector<uint8_t> frame) override;

  size_t queued(session_id id) const override;
  transport_counters counters() const override;
  void frame_consumed(session_id id, size_t bytes) override;
  void datagram_consumed() override;

  /// Frames queued before the close are still sent (for up to 5 s) before the channel closes.
  void close_session(session_id id) override;

private:
  template <class Fn>
  bool with_loop(Fn&& fn) const;
  void reap();

  ble_options options_;
  std::atomic<session_id> next_id_{1};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<std::thread::id> io_thread_id_{};
  std::mutex lifecycle_mutex_;
  std::thread thread_;
  /// Guards io_: the loop of a running transport, null while stopped.
  mutable std::mutex mutex_;
  std::unique_ptr<ble::io_loop> io_;
};

} // namespace fwrescue
