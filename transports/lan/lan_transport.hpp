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

namespace lan {
class io_loop;
} // namespace lan

/// Settings of the LAN transport; start() checks them.
struct lan_options {
  /// Where discovery datagrams go: an IPv4 multicast group, or a broadcast address such as
  /// 127.255.255.255 (then no group is joined).
  std::string group = "239.255.77.1";
  /// UDP port every node listens on for discovery; daemons on one host share it.
  uint16_t discovery_port = 47710;
  /// IPv4 address of the local interface to use ("127.0.0.1"); sessions listen on it and
  /// multicast leaves through it.
  std::string interface_address = "127.0.0.1";
  /// TCP port for sessions; 0 picks a free one (session_address() tells which).
  uint16_t session_port = 0;
  /// Discovery addresses ("192.0.2.7:47710") that also get every broadcast by unicast, for
  /// peers that multicast does not reach (routed networks). Where several daemons share one
  /// discovery port, the kernel hands such a unicast datagram to one of them only.
  std::vector<std::string> static_peers;
  /// Router hops a multicast datagram may cross, 0..255.
  int multicast_ttl = 1;
  /// Names this node in error messages ("lan (node-a): cannot bind ..."); may be empty.
  std::string node_label;
  /// What peers can make the transport spend.
  session_limits limits;
};

/// The LAN transport: discovery datagrams over UDP multicast (or broadcast) plus static peers,
/// sessions over TCP with 4-byte little-endian length-prefixed frames. One thread polls every
/// socket; the other methods queue work for it and return at once.
///
/// A node does not hear its own broadcasts: datagrams whose source is this node's sending
/// socket are dropped on receipt, although multicast loopback is on so that other daemons on
/// the same host hear them.
///
/// Before start() and after stop(), calls are harmless: datagrams are dropped (and counted),
/// frames and closes are ignored, and open_session() returns an id that gets no event.
class lan_transport : public transport {
public:
  explicit lan_transport(lan_options options);
  lan_transport(const lan_transport&) = delete;
  lan_transport& operator=(const lan_transport&) = delete;
  /// Stops the transport; must not run on the transport's own thread (in an event handler).
  ~lan_transport() override;

  link_properties properties() const override;

  /// Opens the sockets and starts the thread. Errors name the address and the reason
  /// ("lan: cannot bind UDP 0.0.0.0:47710: Address already in use"). A stopped transport may
  /// be started again.
  caf::error start(transport_events& events) override;

  /// Joins the thread and closes every socket, promptly even with sessions open. Called from
  /// an event handler, it only makes the thread stop delivering events and exit; the
  /// destructor (or a later stop() from another thread) then joins it.
  void stop() override;

  /// "interface_address:port" of the session listener; empty while stopped.
  std::string session_address() const override;

  /// Datagrams above 1400 bytes are dropped and counted, as are ones that cannot be sent.
  void broadcast(std::vector<uint8_t> datagram) override;
  void send_datagram(const std::string& to, std::vector<uint8_t> datagram) override;

  /// `address` is "a.b.c.d:port"; a malformed one gets on_session_closed naming it.
  session_id open_session(const std::string& address) override;

  /// A frame above 2 MiB closes the session with "frame of N bytes exceeds the
  /// 2097152-byte limit".
  void send_frame(session_id id, std::vector<uint8_t> frame) override;

  size_t queued(session_id id) const override;
  transport_counters counters() const override;
  void frame_consumed(session_id id, size_t bytes) override;
  void datagram_consumed() override;

  /// Frames queued before the close are still written (for up to 5 s) before the socket
  /// closes. Frames read before the close is processed may still arrive ahead of the
  /// "closed locally" event.
  void close_session(session_id id) override;

  /// Datagrams dropped: too large to send or receive, a malformed destination, a send that
  /// failed, or sent while stopped.
  uint64_t dropped_datagrams() const {
    return dropped_.load();
  }

  /// Inbound sessions refused or replaced under the limits, and sessions closed for one.
  uint64_t refused_sessions() const;

private:
  /// Hands work to the I/O thread; false while stopped.
  template <class Command>
  bool post(Command cmd);

  /// Calls `fn(loop)` with the running loop, under the lock; false while stopped.
  template <class Fn>
  bool with_loop(Fn&& fn) const;

  /// Joins a thread that stopped itself from an event handler and drops its loop.
  void reap();

  lan_options options_;
  std::atomic<session_id> next_id_{1};
  std::atomic<uint64_t> dropped_{0};
  /// The I/O thread's id, so that stop() can tell when an event handler calls it.
  std::atomic<std::thread::id> io_thread_id_{};

  /// Serializes start() and stop().
  std::mutex lifecycle_mutex_;
  std::thread thread_;

  /// Guards io_: the loop of a running transport, null while stopped.
  mutable std::mutex mutex_;
  std::unique_ptr<lan::io_loop> io_;
};

} // namespace fwrescue
