#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include <netinet/in.h>

#include <caf/expected.hpp>

#include "transports/lan/lan_sessions.hpp"
#include "transports/lan/lan_socket.hpp"
#include "transports/lan/lan_stream.hpp"
#include "transports/transport.hpp"

namespace fwrescue::lan {

/// Largest datagram broadcast or received: fits one Ethernet frame with room for tunnels.
constexpr size_t max_datagram = 1400;

/// How long a session closed locally may take to hand its queued frames to the peer.
constexpr auto closing_grace = std::chrono::seconds{5};

/// How long accepting pauses when the process is out of descriptors or memory.
constexpr auto accept_backoff = std::chrono::milliseconds{100};

/// Datagrams, connections or reads taken from one socket per poll() round, so that one busy
/// socket cannot starve the others.
constexpr int per_round = 64;

/// Validated settings of one I/O loop.
struct io_config {
  /// Prefix of error messages ("lan", "lan (node-a)").
  std::string who;
  /// Where broadcasts go: the group (or broadcast address) and the discovery port.
  sockaddr_in group{};
  in_addr interface {};
  uint16_t session_port = 0;
  /// Discovery addresses that also get every broadcast by unicast.
  std::vector<sockaddr_in> static_peers;
  int ttl = 1;
  session_limits limits;
};

/// Work other threads hand to the I/O thread.
struct broadcast_command {
  std::vector<uint8_t> bytes;
};
struct datagram_command {
  std::string to;
  std::vector<uint8_t> bytes;
};
struct open_command {
  session_id id;
  std::string address;
};
struct frame_command {
  session_id id;
  std::vector<uint8_t> bytes;
};
struct close_command {
  session_id id;
};
/// Closes a session at once, without flushing what it has queued, with `reason`.
struct abort_command {
  session_id id;
  std::string reason;
};
using command = std::variant<broadcast_command, datagram_command, open_command, frame_command,
                             close_command, abort_command>;

/// The sockets of a started LAN transport and the poll() loop that serves them. Every socket
/// and session is touched by the thread in run() only; other threads talk to it through
/// post() and request_stop().
class io_loop {
public:
  /// Opens every socket; nothing runs until run().
  static caf::expected<std::unique_ptr<io_loop>> open(io_config config, transport_events& events,
                                                      std::atomic<session_id>& next_id,
                                                      std::atomic<uint64_t>& dropped);

  io_loop(const io_loop&) = delete;
  io_loop& operator=(const io_loop&) = delete;

  /// "interface:port" of the session listener.
  const std::string& session_address() const {
    return session_address_;
  }

  /// Queues work for the I/O thread and wakes it. Any thread.
  void post(command cmd);

  /// Sends a frame on an open session, or closes the session when the frame would take its
  /// queue past the limit. Any thread.
  void send_frame(session_id id, std::vector<uint8_t> frame);

  /// Opens a session to `address` under `id`. Any thread.
  void open_session(session_id id, std::string address);

  /// See transport::queued, frame_consumed and datagram_consumed. Any thread.
  size_t queued(session_id id) const;
  void frame_consumed(session_id id, size_t bytes);
  void datagram_consumed();

  /// Inbound sessions refused or replaced under the session limits, and sessions closed for
  /// a limit (handshake, idle, queue). Any thread.
  uint64_t refused_sessions() const {
    return refused_.load();
  }

  /// Makes run() return soon; no event is delivered once this returns. Any thread.
  void request_stop();

  bool stop_requested() const {
    return !live();
  }

  /// The loop; returns after request_stop().
  void run();

private:
  io_loop(io_config config, transport_events& events, std::atomic<session_id>& next_id,
          std::atomic<uint64_t>& dropped);

  bool live() const {
    return !stop_.load(std::memory_order_acquire);
  }

  int poll_timeout() const;
  void run_commands();
  void execute(broadcast_command& cmd);
  void execute(datagram_command& cmd);
  void execute(open_command& cmd);
  void execute(frame_command& cmd);
  void execute(close_command& cmd);
  void execute(abort_command& cmd);
  void send_to(const sockaddr_in& to, const std::vector<uint8_t>& bytes);
  void receive_datagrams(int fd);
  void accept_sessions();
  void serve_session(session_id id, short revents);
  void serve_closing(session_id id, short revents);
  void finish_connect(session_id id, session& s);
  /// Writes what the session has queued and reports the bytes written to its counters.
  std::optional<std::string> flush(session_id id, session& s);
  /// Closes sessions past their handshake or idle deadline.
  void expire_sessions();
  void close_with(session_id id, const std::string& reason);
  void emit_closed(session_id id, const std::string& reason);
  /// Moves a session closed locally to `closing_`, where it may flush for a while; the oldest
  /// lingering ones are dropped when too many linger.
  void linger(session_id id, session s);

  io_config config_;
  transport_events& events_;
  std::atomic<session_id>& next_id_;
  std::atomic<uint64_t>& dropped_;
  unique_fd wakeup_;
  unique_fd discovery_;
  unique_fd sender_;
  unique_fd listener_;
  /// The sending socket's own address: datagrams from it are this node's own broadcasts.
  sockaddr_in sender_address_{};
  std::string session_address_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint32_t> datagram_backlog_{0};
  counter_table counters_;
  /// The process's descriptor limit (RLIMIT_NOFILE), read when the loop opens; 0 if unknown.
  uint64_t descriptor_limit_ = 0;
  /// When the next handshake or idle deadline falls.
  clock::time_point next_deadline_ = clock::time_point::max();
  /// Room for one received datagram, or for input discarded from a closing session.
  std::vector<uint8_t> scratch_;

  std::mutex mutex_;
  std::vector<command> pending_; // guarded by mutex_

  std::map<session_id, session> sessions_;
  /// Sessions closed locally that still flush their output before the socket closes.
  std::map<session_id, session> closing_;
  /// Accepting pauses briefly when the process is out of descriptors, so poll() does not spin
  /// on a listener that stays readable.
  clock::time_point accept_paused_until_{};
};

} // namespace fwrescue::lan
