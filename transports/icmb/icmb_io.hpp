#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "common/unique_fd.hpp"
#include "transports/icmb/icmb_frame.hpp"
#include "transports/icmb/icmb_session.hpp"
#include "transports/icmb/icmb_timing.hpp"
#include "transports/lan/lan_sessions.hpp"
#include "transports/transport.hpp"

namespace fwrescue::icmb {

/// Largest datagram, fragmented into bus frames as needed.
constexpr size_t max_datagram = 1400;
/// Largest session frame.
constexpr size_t max_frame = 256 * 1024;
/// Control frames (acks, opens, resets) waiting for the bus; more are dropped, so a peer that
/// makes us answer every frame it sends cannot grow the queue.
constexpr size_t max_control_queue = 128;
/// Resets among them: the answers a flooding peer can make us queue ahead of real ones.
constexpr size_t max_queued_resets = 8;
/// Datagrams waiting for the bus; more are dropped and counted.
constexpr size_t max_datagram_queue = 64;
/// Collisions a datagram fragment may meet before it is dropped.
constexpr unsigned max_fragment_collisions = 16;
/// Datagrams being put together from fragments at once; the oldest gives way.
constexpr size_t max_reassembly = 16;
/// Session frames sent back to back in one turn on the bus.
constexpr size_t max_burst = 2;
/// A receiver acknowledges after this many new payloads (or sooner when asked).
constexpr unsigned ack_every = 4;

/// Validated settings of one I/O loop.
struct io_config {
  std::string who;
  std::string device;
  uint32_t baud = 19200;
  uint16_t address = 0;
  size_t max_payload = 1024;
  session_limits limits;
  std::function<void(std::string_view)> warn;
  timing times;
};

/// What the bus side did, for tests, benchmarks and status.
struct bus_stats {
  /// Bytes written to the port, collided attempts included.
  uint64_t bytes_written = 0;
  uint64_t frames_sent = 0;
  uint64_t collisions = 0;
  /// Echoed bytes with one bit flipped (line noise, not a collision).
  uint64_t echo_bit_errors = 0;
  /// Writes whose echo never came back within the echo timeout.
  uint64_t echo_timeouts = 0;
  uint64_t retransmissions = 0;
  decoder_counters decoder;
};

struct datagram_command {
  uint16_t to;
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
using command =
  std::variant<datagram_command, open_command, frame_command, close_command, abort_command>;

using lan::counter_table;
using lan::session_counters;

/// One session as the loop keeps it.
struct session {
  session(size_t max_payload, size_t overhead, size_t frame_limit)
    : tx(max_payload, overhead), rx(frame_limit) {
  }
  uint16_t peer = 0;
  uint8_t conn = 0;
  bool inbound = false;
  bool open = false;
  /// Distinguishes a repeated open from a new one under the same conn number.
  uint16_t nonce = 0;
  int open_sent = 0;
  /// When the open is sent (again); clock::time_point::max() while one waits for the bus.
  clock::time_point open_due{};
  send_window tx;
  receive_window rx;
  bool handshaken = false;
  clock::time_point opened{};
  clock::time_point active{};
  std::shared_ptr<session_counters> counters;
  /// Payloads received since the last ack we sent, and whether the peer wants one now.
  unsigned unacked = 0;
  bool ack_now = false;
  bool ack_queued = false;
  /// The peer closed: the session ends once everything before this seq is delivered.
  std::optional<uint64_t> close_at;
  /// Closed locally: still sending what was queued until this deadline.
  std::optional<clock::time_point> lingering;
};

/// Our flags on a session's frames: the opener marks its own.
inline uint8_t own_flags(const session& s) {
  return s.inbound ? 0 : flag_from_opener;
}

/// The serial port of a started ICMB transport and the loop that serves it: medium access,
/// the sessions and the datagrams. Everything is touched by the thread in run() only, except
/// what the any-thread methods say.
class io_loop {
public:
  static caf::expected<std::unique_ptr<io_loop>> open(io_config config, transport_events& events,
                                                      std::atomic<session_id>& next_id,
                                                      std::atomic<uint64_t>& dropped);
  io_loop(const io_loop&) = delete;
  io_loop& operator=(const io_loop&) = delete;

  /// Any thread.
  void post(command cmd);
  void send_frame(session_id id, std::vector<uint8_t> frame);
  void open_session(session_id id, std::string address);
  size_t queued(session_id id) const;
  void frame_consumed(session_id id, size_t bytes);
  void datagram_consumed();
  uint64_t refused_sessions() const {
    return refused_.load();
  }
  bus_stats stats() const;
  void request_stop();
  bool stop_requested() const {
    return !live();
  }

  void run();

private:
  io_loop(io_config config, transport_events& events, std::atomic<session_id>& next_id,
          std::atomic<uint64_t>& dropped);

  bool live() const {
    return !stop_.load(std::memory_order_acquire);
  }
  void wake();

  // icmb_io.cpp: the loop, commands, medium access.
  void run_commands();
  void execute(datagram_command& cmd);
  void execute(open_command& cmd);
  void execute(frame_command& cmd);
  void execute(close_command& cmd);
  void execute(abort_command& cmd);
  void read_port(clock::time_point now);
  void check_echo(const uint8_t* data, size_t size, clock::time_point now);
  void collided(clock::time_point now, bool timeout);
  void transmit(clock::time_point now);
  bool start_next(clock::time_point now);
  void write_some();
  void finish_tx(uint64_t end, clock::time_point now);
  clock::time_point next_wakeup(clock::time_point now);
  /// Idle time the next data frame needs.
  std::chrono::nanoseconds data_wait() const;
  /// Whether a session payload or a datagram waits for the bus.
  bool has_data() const;
  /// Queues a control frame; `opening` names the session an open is for.
  void queue_control(frame f, std::optional<session_id> opening = std::nullopt);

  // icmb_io_commands.cpp and icmb_io_sessions.cpp: datagrams and sessions.
  void handle(frame& f, clock::time_point now);
  void handle_datagram(frame& f);
  void handle_open(frame& f, clock::time_point now);
  void handle_session_frame(frame& f, clock::time_point now);
  void handle_data(session_id id, session& s, frame& f, clock::time_point now);
  void send_reset(uint16_t to, uint8_t conn, uint8_t flags, std::string reason);
  void deliver_datagram(uint16_t from, std::vector<uint8_t> bytes);
  void expire(session_id id, session& s, clock::time_point now);
  std::chrono::nanoseconds rto_of(const session& s) const;
  /// What a data frame costs besides its payload, in byte times: header, CRC and gap.
  size_t overhead_bytes() const;
  /// A session payload to send next, round robin among sessions: the frame, its session and seq.
  struct outgoing {
    frame f;
    session_id id = 0;
    uint64_t seq = 0;
  };
  std::optional<outgoing> next_data_frame(clock::time_point now);
  frame make_ack(session& s);
  void expire_sessions(clock::time_point now);
  void close_with(session_id id, const std::string& reason);
  void end_session(session_id id);
  std::optional<clock::time_point> session_deadline() const;
  static uint32_t key_of(uint16_t peer, uint8_t conn, bool inbound) {
    return uint32_t{peer} << 9 | uint32_t{conn} << 1 | (inbound ? 1u : 0u);
  }

  io_config config_;
  transport_events& events_;
  std::atomic<session_id>& next_id_;
  std::atomic<uint64_t>& dropped_;
  unique_fd port_;
  unique_fd wakeup_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint32_t> datagram_backlog_{0};
  counter_table counters_;
  std::mt19937_64 rng_;

  std::mutex mutex_;
  std::vector<command> pending_; // guarded by mutex_
  mutable std::mutex stats_mutex_;
  bus_stats stats_; // guarded by stats_mutex_

  decoder decoder_;
  std::vector<frame> frames_;
  /// When the last byte came off the bus, and the random part of the next data gap.
  clock::time_point last_rx_{};
  std::chrono::nanoseconds jitter_{};
  /// Idle time added to the gaps after a collision (randomized, doubling with each collision in
  /// a row). It is added to the idle time, not counted from the collision: both colliders
  /// hear the same garbled tail, and a wait from the collision would end inside it for both.
  std::chrono::nanoseconds backoff_{};
  unsigned collisions_in_row_ = 0;
  /// The last frame on the bus was ours: our next data frame waits longer, so another node's
  /// waiting data goes first and two busy senders take turns instead of colliding.
  bool last_was_ours_ = false;

  /// The frame on the wire: its bytes, how many are written and how many came back.
  struct transmission {
    std::vector<uint8_t> bytes;
    size_t written = 0;
    size_t echoed = 0;
    clock::time_point last_progress{};
    bool control = false;
    /// For data: the sessions and payload seqs, to report the outcome.
    std::vector<std::pair<session_id, uint64_t>> payloads;
    /// For an ack: the session it acknowledges.
    std::optional<session_id> ack_for;
    /// For another control frame: the frame, queued again when it collides.
    std::optional<frame> resend;
    /// For an open: the session waiting for its answer.
    std::optional<session_id> opening;
    /// For a datagram fragment: the fragment, put back at the head of its datagram when it
    /// collides (every donor answers a broadcast request at once, so offers collide as a rule).
    std::optional<frame> fragment;
    /// The fragment was its datagram's last: the datagram left the queue with it.
    bool fragment_last = false;
  };
  std::optional<transmission> tx_;
  /// Collisions in a row of the datagram fragment at the head of the queue; past
  /// max_fragment_collisions it is dropped (and counted), so a jammed bus cannot hold it forever.
  unsigned fragment_collisions_ = 0;
  struct control_entry {
    frame f;
    std::optional<session_id> opening;
  };
  std::deque<control_entry> control_;
  /// For acks: the session they are for, built when they go out so they are current.
  std::deque<session_id> ack_queue_;
  std::deque<std::vector<frame>> datagrams_;
  uint16_t next_datagram_id_ = 0;
  struct partial {
    uint8_t count = 0;
    std::vector<std::vector<uint8_t>> parts;
    size_t have = 0;
    size_t bytes = 0;
    uint64_t age = 0;
  };
  std::map<uint32_t, partial> reassembly_;
  uint64_t reassembly_clock_ = 0;

  std::map<session_id, session> sessions_;
  std::map<uint32_t, session_id> by_key_;
  uint8_t next_conn_ = 0;
  /// Round robin among sessions with data to send.
  session_id last_served_ = 0;
};

} // namespace fwrescue::icmb
