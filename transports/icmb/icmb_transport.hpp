#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "transports/icmb/icmb_io.hpp"
#include "transports/transport.hpp"

namespace fwrescue {

/// Settings of the ICMB transport; start() checks them.
struct icmb_options {
  /// The serial port wired to the bus's RS-485 transceiver ("/dev/ttyS2").
  std::string device;
  /// Bits per second; every node on the bus uses the same. IPMI's ICMB runs at 19200.
  uint32_t baud = 19200;
  /// This node's bus address, 0x0001..0xfffe (0xffff is broadcast); unique on the bus.
  uint16_t address = 0;
  /// Payload bytes per bus frame, 16..4096. A data frame adds 20 bytes and waits for an idle
  /// gap of about 7 ms at 115200 baud (80 byte times) or 13 byte times at 19200, so short
  /// frames waste the bus, and long ones are lost more often to bit errors. At a bit-error
  /// rate of 1e-5, goodput n/(n+h) × (1-1e-5)^(8(n+h)), h the overhead in byte times, peaks
  /// near 1100 bytes at 115200 (h ≈ 100) and near 650 at 19200 (h ≈ 34); 1024 is within 1 %
  /// of both peaks. On a noisier bus each session shrinks its payloads from the loss it sees
  /// (icmb_session.hpp). Every node must accept the largest payload any node sends (4096
  /// always is).
  size_t max_payload = 1024;
  /// What peers can make the transport spend (descriptor_reserve does not apply: sessions
  /// cost no descriptors here).
  session_limits limits;
  /// Names this node in error messages ("icmb (node-a): cannot open ..."); may be empty.
  std::string node_label;
  /// Hears one-time notices, such as a port without RS-485 direction control.
  std::function<void(std::string_view)> warn;
};

/// The ICMB transport: a half-duplex, multi-drop RS-485 serial bus shared by up to 64 nodes.
/// Discovery datagrams are broadcast to 0xffff; sessions are a reliable, ordered stream of
/// length-prefixed frames over numbered bus frames with selective acknowledgements
/// (transports/icmb/icmb_session.hpp). Medium access is listen before talk with collision
/// detection on our own echo and randomized backoff; acknowledgements wait a shorter idle gap
/// than data, so they win the bus (icmb_timing.hpp). Addresses are "0x0012".
///
/// Before start() and after stop(), calls are harmless: datagrams are dropped (and counted),
/// frames and closes are ignored, and open_session() returns an id that gets no event.
class icmb_transport : public transport {
public:
  explicit icmb_transport(icmb_options options);
  icmb_transport(const icmb_transport&) = delete;
  icmb_transport& operator=(const icmb_transport&) = delete;
  /// Stops the transport; must not run on the transport's own thread (in an event handler).
  ~icmb_transport() override;

  /// kind "icmb", max_datagram 1400, max_frame 256 KiB, the baud, and the latency of one
  /// data frame and its gap.
  link_properties properties() const override;

  /// Opens the port and starts the thread. Errors are one line: "icmb: cannot open /dev/x:
  /// No such file or directory", "icmb: /tmp/f is not a serial device", "icmb: baud 12345 is
  /// not a rate the serial driver knows", an address or payload size out of range. A stopped
  /// transport may be started again.
  caf::error start(transport_events& events) override;

  /// Joins the thread and closes the port. Called from an event handler, it only makes the
  /// thread stop delivering events and exit; the destructor or a later stop() joins it.
  void stop() override;

  /// "0x0012"; empty while stopped.
  std::string session_address() const override;

  /// Datagrams above 1400 bytes are dropped and counted, as are ones to a malformed address.
  void broadcast(std::vector<uint8_t> datagram) override;
  void send_datagram(const std::string& to, std::vector<uint8_t> datagram) override;

  /// `address` is "0x0012"; a malformed one gets on_session_closed naming it, one nobody has
  /// "no answer from 0x0012: ...".
  session_id open_session(const std::string& address) override;

  /// A frame above 256 KiB closes the session.
  void send_frame(session_id id, std::vector<uint8_t> frame) override;
  size_t queued(session_id id) const override;
  void frame_consumed(session_id id, size_t bytes) override;
  void datagram_consumed() override;
  /// Frames queued before the close are still sent (for up to 5 s), then the peer is told.
  void close_session(session_id id) override;
  transport_counters counters() const override;

  /// What the bus side did since start(): bytes written, collisions, retransmissions and the
  /// decoder's drops. Zeros while stopped.
  icmb::bus_stats stats() const;

private:
  template <class Fn>
  bool with_loop(Fn&& fn) const;
  void reap();

  icmb_options options_;
  std::atomic<session_id> next_id_{1};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<std::thread::id> io_thread_id_{};
  std::mutex lifecycle_mutex_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::unique_ptr<icmb::io_loop> io_;
};

} // namespace fwrescue
