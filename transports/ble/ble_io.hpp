#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/unique_fd.hpp"
#include "transports/ble/ble_channel.hpp"
#include "transports/ble/ble_sdu.hpp"
#include "transports/lan/lan_sessions.hpp"
#include "transports/transport.hpp"

namespace fwrescue::ble {

/// Largest datagram carried: the LAN transport's, so discovery messages fit either link.
constexpr size_t max_datagram = 1400;

/// Largest frame a session carries (properties().max_frame). A frame this size takes about
/// 4.5 s at 500 kbit/s; the receive side of a session never buffers more than one.
constexpr size_t max_frame = 256 * 1024;

/// Datagrams queued on one peer's datagram channel while it opens or waits for credits; more
/// are dropped and counted, as a full socket buffer drops them on the LAN.
constexpr size_t max_datagrams_queued = 32;

/// How long a session closed locally may take to hand its queued frames to the peer.
constexpr auto closing_grace = std::chrono::seconds{5};

/// How long accepting pauses when the process is out of descriptors or memory.
constexpr auto accept_backoff = std::chrono::milliseconds{100};

/// SDUs read from or written to one channel per poll() round, so one busy channel cannot
/// starve the others.
constexpr int per_round = 64;

/// Validated settings of one I/O loop.
struct io_config {
  /// Prefix of error messages ("ble", "ble (node-a)").
  std::string who;
  /// Every broadcast goes to each of them.
  std::vector<device_address> peers;
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
struct abort_command {
  session_id id;
  std::string reason;
};
using command = std::variant<broadcast_command, datagram_command, open_command, frame_command,
                             close_command, abort_command>;

/// One channel and what the loop knows of it.
struct link {
  std::unique_ptr<channel> ch;
  /// Set up (progress() returned true).
  bool open = false;
  bool inbound = false;
  /// What it carries; unknown for an inbound channel until its first SDU.
  std::optional<channel_kind> kind;
  /// The kind SDU has gone out (channels we open send it first).
  bool kind_sent = false;
  /// The session it carries, for session channels.
  session_id id = 0;
  device_address peer;
  sdu_segmenter out;
  sdu_reassembler in{0};
  /// The next SDU to send, built from `out` at the channel's MTU.
  std::vector<uint8_t> sdu;
  bool sdu_built = false;
  /// A whole frame has arrived.
  bool handshaken = false;
  clock::time_point opened{};
  /// Last time an SDU moved either way.
  clock::time_point active{};
  std::shared_ptr<lan::session_counters> counters;
  /// Closed locally, flushing until `deadline`.
  bool closing = false;
  clock::time_point deadline{};
  /// Datagrams queued in `out`.
  size_t datagrams = 0;
};

/// The channels of a started BLE transport and the poll() loop that serves them. Every channel
/// is touched by the thread in run() only; other threads talk to it through post().
class io_loop {
public:
  io_loop(io_config config, std::unique_ptr<adapter> adapter, transport_events& events,
          std::atomic<session_id>& next_id, std::atomic<uint64_t>& dropped, unique_fd wakeup);
  io_loop(const io_loop&) = delete;
  io_loop& operator=(const io_loop&) = delete;

  std::string session_address() const {
    return to_string(adapter_->address());
  }

  /// See transport; any thread.
  void post(command cmd);
  void open_session(session_id id, std::string address);
  void send_frame(session_id id, std::vector<uint8_t> frame);
  size_t queued(session_id id) const;
  void frame_consumed(session_id id, size_t bytes);
  void datagram_consumed();
  uint64_t refused_sessions() const {
    return refused_.load();
  }
  void request_stop();
  bool stop_requested() const {
    return !live();
  }
  void run();

private:
  using link_map = std::map<uint64_t, link>;

  bool live() const {
    return !stop_.load(std::memory_order_acquire);
  }
  void wake();
  std::optional<clock::duration> poll_timeout() const;
  void run_commands();
  void execute(broadcast_command& cmd);
  void execute(datagram_command& cmd);
  void execute(open_command& cmd);
  void execute(frame_command& cmd);
  void execute(close_command& cmd);
  void execute(abort_command& cmd);
  void queue_datagram(const device_address& to, std::vector<uint8_t> bytes);

  // ble_io_links.cpp
  void accept_channels();
  void serve(link_map::iterator it);
  bool reading(const link& l) const;
  bool writing(const link& l) const;
  /// Reads what the channel has; the reason to drop it, or nothing.
  std::optional<std::string> read(link& l);
  std::optional<std::string> write(link& l);
  std::optional<std::string> take_kind(link& l, std::span<const uint8_t> sdu);
  std::optional<std::string> admit_session(link& l);
  void expire();
  /// Drops a link; a session's on_session_closed gets `reason`.
  void drop(link_map::iterator it, const std::string& reason);

  io_config config_;
  std::unique_ptr<adapter> adapter_;
  transport_events& events_;
  std::atomic<session_id>& next_id_;
  std::atomic<uint64_t>& dropped_;
  unique_fd wakeup_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint32_t> datagram_backlog_{0};
  lan::counter_table counters_;
  uint64_t descriptor_limit_ = 0;
  /// Keys of links that carry no session (datagram channels, inbound ones not yet known) start
  /// here, above every session id.
  uint64_t next_key_ = uint64_t{1} << 63;

  std::mutex mutex_;
  std::vector<command> pending_; // guarded by mutex_

  link_map links_;
  /// Room for the SDU being read.
  std::vector<uint8_t> sdu_in_;
  clock::time_point accept_paused_until_{};
};

} // namespace fwrescue::ble
