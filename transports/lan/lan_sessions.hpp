#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <netinet/in.h>

#include "transports/lan/lan_socket.hpp"
#include "transports/lan/lan_stream.hpp"
#include "transports/transport.hpp"

namespace fwrescue::lan {

using clock = std::chrono::steady_clock;

/// What other threads need to know of a session without asking the I/O thread: how much it
/// has queued to send and how much it has delivered that is not yet handled.
struct session_counters {
  std::atomic<size_t> queued{0};
  std::atomic<size_t> unconsumed{0};
};

/// One TCP session, owned by the I/O thread.
struct session {
  unique_fd fd;
  std::string peer;
  /// The peer's IP address, for the per-source bound on inbound sessions.
  in_addr source{};
  bool inbound = false;
  bool connecting = false;
  /// A whole frame has arrived (inbound sessions must get there within the handshake time).
  bool handshaken = false;
  framed_stream stream;
  clock::time_point opened{};
  /// Last time a byte moved either way.
  clock::time_point active{};
  std::shared_ptr<session_counters> counters;
  /// For a session closed locally: when to give up on a graceful close.
  clock::time_point deadline{};
  bool write_shut = false;
};

/// The counters of every open session, shared between the I/O thread (which creates and drops
/// them) and the threads that send frames and report frames consumed.
class counter_table {
public:
  std::shared_ptr<session_counters> add(session_id id);
  void remove(session_id id);
  /// The session's counters, or null once it is closed.
  std::shared_ptr<session_counters> find(session_id id) const;

private:
  mutable std::mutex mutex_;
  std::unordered_map<session_id, std::shared_ptr<session_counters>> table_;
};

/// Decides whether an inbound session may be taken, under session_limits: the process's
/// descriptor reserve, the bound per source address and the total. At the total, the oldest
/// session that has not delivered a frame yet makes room (connections that never speak must
/// not lock out the ones that do).
struct admission {
  /// Take the session.
  bool admit = false;
  /// An inbound session to close first, to make room.
  std::optional<session_id> evict;
  /// Why the session is refused (when not admitted).
  std::string reason;
};

/// `fd` is the new session's descriptor: the kernel hands out the lowest free one, so a number
/// within `reserve` of the limit means at most that many are left for the rest of the process.
admission admit_inbound(const std::map<session_id, session>& sessions, in_addr source, int fd,
                        const session_limits& limits, uint64_t descriptor_limit);

/// Why `s` must close at `now` under `limits`, or nothing; and when it must be looked at next.
std::optional<std::string> expired(const session& s, const session_limits& limits,
                                   clock::time_point now, clock::time_point& next);

} // namespace fwrescue::lan
