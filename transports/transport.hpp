#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>

namespace fwrescue {

/// What a link can carry; the protocol sizes its window and chunks from it.
struct link_properties {
  /// Transport name: "lan", "icmb", "ble", "sim".
  std::string kind;
  /// Largest datagram broadcast() and send_datagram() carry.
  size_t max_datagram = 0;
  /// Largest frame a session carries.
  size_t max_frame = 0;
  /// Nominal rate in bits per second and one-way latency in microseconds (0 when unknown).
  uint64_t nominal_rate_bps = 0;
  uint32_t latency_us = 0;
  /// On a node with several links, the slowest one's rate (0: the same as nominal_rate_bps):
  /// discovery waits long enough for offers to cross it.
  uint64_t slowest_rate_bps = 0;
  uint32_t slowest_latency_us = 0;
};

using session_id = uint64_t;

/// What a peer can make a transport spend, enforced by every transport for every session it
/// carries, whatever protocol runs over it. docs/architecture.md has the whole table.
struct session_limits {
  /// Sessions peers have opened to us, at once: in all, and from one source (an IP address on
  /// the LAN). At the total, a new session replaces the oldest one that has not yet delivered a
  /// frame; failing that it is refused, as it is over the per-source bound.
  uint32_t max_inbound = 64;
  uint32_t max_inbound_per_source = 8;
  /// An inbound session must deliver its first whole frame within this.
  std::chrono::milliseconds handshake{5000};
  /// A session on which nothing moves, in either direction, for this long is closed.
  std::chrono::milliseconds idle{15000};
  /// Bytes handed to send_frame() and not yet written; a frame that would take a session past
  /// it closes the session instead of being queued (its peer does not read).
  size_t max_queued = size_t{4} << 20;
  /// Bytes of frames delivered by on_frame() and not yet reported by frame_consumed(); reading
  /// from a session pauses while it is past this, so a peer's backlog stays in its own buffers.
  size_t max_unconsumed = size_t{4} << 20;
  /// Largest frame a peer may send on a session it opened to us: such sessions carry accepts
  /// and block requests, never blocks, so a small bound keeps their buffers small.
  size_t max_inbound_frame = size_t{64} << 10;
  /// Datagrams delivered by on_datagram() and not yet reported by datagram_consumed(); more
  /// are dropped (and counted) until the receiver catches up.
  uint32_t max_datagram_backlog = 256;
  /// Descriptors kept free for the rest of the process (flash, store, admin socket): an inbound
  /// session is refused when accepting it leaves fewer than this below the process's limit.
  uint32_t descriptor_reserve = 64;
};

/// What a transport turned away, for status: a steady count means a peer is pushing at a bound.
struct transport_counters {
  /// Datagrams dropped: too large, over the backlog, or not sendable.
  uint64_t dropped_datagrams = 0;
  /// Sessions refused or replaced under the session limits, or closed for one.
  uint64_t refused_sessions = 0;
};

/// Receives a transport's events, on the transport's own thread. The daemon's implementation
/// forwards each event to an actor; tests record them.
class transport_events {
public:
  virtual ~transport_events() = default;

  /// A datagram arrived; `from` is the address to answer with send_datagram().
  virtual void on_datagram(const std::string& from, std::vector<uint8_t> bytes) = 0;

  /// A session is up: one we opened with open_session() (inbound false) or one a peer opened
  /// to us (inbound true, with a new id).
  virtual void on_session_opened(session_id id, const std::string& peer, bool inbound) = 0;

  /// One whole frame arrived on a session, in order.
  virtual void on_frame(session_id id, std::vector<uint8_t> bytes) = 0;

  /// A session ended or could not be opened; `reason` is one line ("connection refused",
  /// "closed by peer", "frame of 9999999 bytes exceeds the limit").
  virtual void on_session_closed(session_id id, const std::string& reason) = 0;

  /// The bytes queued on a session fell below half of session_limits::max_queued, after
  /// queued() had been at or above that: a sender holding back may send again.
  virtual void on_session_drained(session_id id) = 0;
};

/// One kind of link between nodes: small broadcast datagrams for discovery, and reliable,
/// ordered, framed sessions for transfers. Every method may be called from any thread.
/// Implementations: transports/lan.
class transport {
public:
  virtual ~transport() = default;

  virtual link_properties properties() const = 0;

  /// The properties of the link a session runs on: a node with several links sizes each
  /// session's window, frames and deadlines from its own link.
  virtual link_properties session_properties(session_id) const {
    return properties();
  }

  /// The properties of the link an address (a datagram's sender, a session address) is on.
  virtual link_properties address_properties(const std::string& /*address*/) const {
    return properties();
  }

  /// Starts the transport's thread; events go to `events`, which must outlive stop().
  virtual caf::error start(transport_events& events) = 0;

  /// Stops the thread and closes every socket. No events are delivered after it returns.
  virtual void stop() = 0;

  /// The address peers pass to open_session() to reach this node ("127.0.0.1:47711").
  virtual std::string session_address() const = 0;

  /// The address a peer that sent us a datagram from `from` opens a session to: on a node with
  /// several links, the session address on the link the datagram came in on.
  virtual std::string session_address_for(const std::string& /*from*/) const {
    return session_address();
  }

  /// Sends a datagram to every node on the link.
  virtual void broadcast(std::vector<uint8_t> datagram) = 0;

  /// Sends a datagram to one address (usually the `from` of a datagram received).
  virtual void send_datagram(const std::string& to, std::vector<uint8_t> datagram) = 0;

  /// Starts opening a session; on_session_opened or on_session_closed reports the outcome
  /// under the returned id.
  virtual session_id open_session(const std::string& address) = 0;

  /// Queues a frame; frames arrive whole and in order or the session closes. A frame that
  /// would take the session's queue past session_limits::max_queued closes the session
  /// ("peer does not read: ...").
  virtual void send_frame(session_id id, std::vector<uint8_t> frame) = 0;

  /// Bytes handed to send_frame() on a session and not yet written to the link (0 for a
  /// session that is not open). A sender keeps it below half of max_queued and waits for
  /// on_session_drained otherwise.
  virtual size_t queued(session_id id) const = 0;

  /// The receiver has handled `bytes` of the frames on_frame() delivered for a session.
  virtual void frame_consumed(session_id id, size_t bytes) = 0;

  /// The receiver has handled one datagram on_datagram() delivered.
  virtual void datagram_consumed() = 0;

  /// The same, naming the datagram's sender: a node with several links tells the one it came on.
  virtual void datagram_consumed_from(const std::string& /*from*/) {
    datagram_consumed();
  }

  /// Closes a session; on_session_closed follows with reason "closed locally".
  virtual void close_session(session_id id) = 0;

  /// What the transport has turned away since it was made.
  virtual transport_counters counters() const = 0;
};

} // namespace fwrescue
