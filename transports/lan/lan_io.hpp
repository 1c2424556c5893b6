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

#include "transports/lan/lan_socket.hpp"
#include "transports/lan/lan_stream.hpp"
#include "transports/transport.hpp"

namespace fwrescue::lan {

/// Largest datagram broadcast or received: fits one Ethernet frame with room for tunnels.
constexpr size_t max_datagram = 1400;

/// Validated settings of one I/O loop.
struct io_config {
  /// Prefix of error messages ("lan", "lan (node-a)").
  std::string who;
  /// Where broadcasts go: the group (or broadcast address) and the discovery port.
  sockaddr_in group{};
  in_addr interface{};
  uint16_t session_port = 0;
  /// Discovery addresses that also get every broadcast by unicast.
  std::vector<sockaddr_in> static_peers;
  int ttl = 1;
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
using command =
  std::variant<broadcast_command, datagram_command, open_command, frame_command, close_command>;

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

  /// Makes run() return soon; no event is delivered once this returns. Any thread.
  void request_stop();

  bool stop_requested() const {
    return !live();
  }

  /// The loop; returns after request_stop().
  void run();

private:
  using clock = std::chrono::steady_clock;

  struct session {
    unique_fd fd;
    std::string peer;
    bool connecting = false;
    framed_stream stream;
    /// For a session closed locally: when to give up on a graceful close.
    clock::time_point deadline{};
    bool write_shut = false;
  };

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
  void send_to(const sockaddr_in& to, const std::vector<uint8_t>& bytes);
  void receive_datagrams(int fd);
  void accept_sessions();
  void serve_session(session_id id, short revents);
  void serve_closing(session_id id, short revents);
  void finish_connect(session_id id, session& s);
  void close_with(session_id id, const std::string& reason);
  void emit_closed(session_id id, const std::string& reason);

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
