#pragma once

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
};

using session_id = uint64_t;

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
};

/// One kind of link between nodes: small broadcast datagrams for discovery, and reliable,
/// ordered, framed sessions for transfers. Every method may be called from any thread.
/// Implementations: transports/lan.
class transport {
public:
  virtual ~transport() = default;

  virtual link_properties properties() const = 0;

  /// Starts the transport's thread; events go to `events`, which must outlive stop().
  virtual caf::error start(transport_events& events) = 0;

  /// Stops the thread and closes every socket. No events are delivered after it returns.
  virtual void stop() = 0;

  /// The address peers pass to open_session() to reach this node ("127.0.0.1:47711").
  virtual std::string session_address() const = 0;

  /// Sends a datagram to every node on the link.
  virtual void broadcast(std::vector<uint8_t> datagram) = 0;

  /// Sends a datagram to one address (usually the `from` of a datagram received).
  virtual void send_datagram(const std::string& to, std::vector<uint8_t> datagram) = 0;

  /// Starts opening a session; on_session_opened or on_session_closed reports the outcome
  /// under the returned id.
  virtual session_id open_session(const std::string& address) = 0;

  /// Queues a frame; frames arrive whole and in order or the session closes.
  virtual void send_frame(session_id id, std::vector<uint8_t> frame) = 0;

  /// Closes a session; on_session_closed follows with reason "closed locally".
  virtual void close_session(session_id id) = 0;
};

} // namespace fwrescue
