#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "transports/transport.hpp"

namespace fwrescue::test {

/// A transport in memory for actor tests. It records what the code under test sends
/// (broadcasts, datagrams, sessions opened, frames, closes) and lets the test play the network
/// by injecting events, which reach the registered `transport_events` at once, on the test's
/// thread. No threads, no sockets, no timing; not thread-safe, like the test coordinator it
/// serves. Header-only so any test can use it without a library.
class fake_transport : public transport {
public:
  struct datagram {
    std::string to;
    std::vector<uint8_t> bytes;
  };

  struct opened_session {
    session_id id;
    std::string address;
  };

  struct frame {
    session_id id;
    std::vector<uint8_t> bytes;
  };

  /// Properties like a LAN link's, under the kind "fake".
  static link_properties default_properties() {
    link_properties props;
    props.kind = "fake";
    props.max_datagram = 1400;
    props.max_frame = 2 * 1024 * 1024;
    props.nominal_rate_bps = 1'000'000'000;
    props.latency_us = 100;
    return props;
  }

  explicit fake_transport(link_properties props = default_properties(),
                          std::string address = "192.0.2.1:47711")
    : props_(std::move(props)), address_(std::move(address)) {
  }

  // -- transport ------------------------------------------------------------------------------

  link_properties properties() const override {
    return props_;
  }

  /// A session's link is the node's link, at the rate set_session_rate() gave, if any.
  link_properties session_properties(session_id) const override {
    auto p = props_;
    if (session_rate_)
      p.nominal_rate_bps = *session_rate_;
    return p;
  }

  caf::error start(transport_events& events) override {
    if (start_error_)
      return start_error_;
    events_ = &events;
    return {};
  }

  /// Forgets every session without events, as a real transport does.
  void stop() override {
    events_ = nullptr;
    pending_.clear();
    open_.clear();
    ++stops_;
  }

  std::string session_address() const override {
    return address_;
  }

  void broadcast(std::vector<uint8_t> datagram) override {
    broadcasts_.push_back(std::move(datagram));
  }

  void send_datagram(const std::string& to, std::vector<uint8_t> bytes) override {
    datagrams_.push_back({to, std::move(bytes)});
  }

  /// Records the request; the test answers with accept_open() or refuse_open().
  session_id open_session(const std::string& address) override {
    auto id = next_id_++;
    opened_.push_back({id, address});
    pending_[id] = address;
    return id;
  }

  void send_frame(session_id id, std::vector<uint8_t> bytes) override {
    queued_[id] += bytes.size() + 4;
    frames_.push_back({id, std::move(bytes)});
  }

  /// What was sent on the session and not yet taken by drain() (nothing is taken by itself:
  /// a test plays the network).
  size_t queued(session_id id) const override {
    auto i = queued_.find(id);
    return i == queued_.end() ? 0 : i->second;
  }

  void frame_consumed(session_id id, size_t bytes) override {
    consumed_[id] += bytes;
  }

  void datagram_consumed() override {
    ++datagrams_consumed_;
  }

  transport_counters counters() const override {
    return {3, 5};
  }

  /// Records the close and, as the contract promises, reports "closed locally" at once for a
  /// session that is open or opening (nothing for one already closed, or while stopped).
  void close_session(session_id id) override {
    closed_.push_back(id);
    if (open_.erase(id) + pending_.erase(id) > 0 && events_ != nullptr)
      events_->on_session_closed(id, "closed locally");
  }

  // -- what the test does ---------------------------------------------------------------------

  /// Makes the next start() fail with `err`.
  void fail_start(caf::error err) {
    start_error_ = std::move(err);
  }

  void deliver_datagram(const std::string& from, std::vector<uint8_t> bytes) {
    events().on_datagram(from, std::move(bytes));
  }

  /// Completes an open_session() request.
  void accept_open(session_id id) {
    auto i = pending_.find(id);
    if (i == pending_.end())
      throw std::logic_error("fake_transport: no session is opening under this id");
    auto address = i->second;
    pending_.erase(i);
    open_.emplace(id, address);
    events().on_session_opened(id, address, false);
  }

  /// Fails an open_session() request with `reason`.
  void refuse_open(session_id id, const std::string& reason = "connection refused") {
    if (pending_.erase(id) == 0)
      throw std::logic_error("fake_transport: no session is opening under this id");
    events().on_session_closed(id, reason);
  }

  /// A peer opens a session to us; returns its id.
  session_id open_inbound(const std::string& peer) {
    auto id = next_id_++;
    open_.emplace(id, peer);
    events().on_session_opened(id, peer, true);
    return id;
  }

  void deliver_frame(session_id id, std::vector<uint8_t> bytes) {
    if (open_.count(id) == 0)
      throw std::logic_error("fake_transport: frame for a session that is not open");
    events().on_frame(id, std::move(bytes));
  }

  /// The peer reads everything queued on `id`; reports the session drained when its queue was
  /// at or above `low_water` (half the sender's bound).
  void drain(session_id id, size_t low_water) {
    auto& q = queued_[id];
    bool was_full = q >= low_water;
    q = 0;
    if (was_full)
      events().on_session_drained(id);
  }

  /// Bytes of frames of `id` the receiver reported handled.
  size_t consumed(session_id id) const {
    auto i = consumed_.find(id);
    return i == consumed_.end() ? 0 : i->second;
  }

  uint64_t datagrams_consumed() const {
    return datagrams_consumed_;
  }

  /// The peer or the network ends a session.
  void close_by_peer(session_id id, const std::string& reason = "closed by peer") {
    if (open_.erase(id) == 0)
      throw std::logic_error("fake_transport: no session is open under this id");
    events().on_session_closed(id, reason);
  }

  // -- what the test checks -------------------------------------------------------------------

  const std::vector<std::vector<uint8_t>>& broadcasts() const {
    return broadcasts_;
  }

  const std::vector<datagram>& datagrams() const {
    return datagrams_;
  }

  /// Every open_session() call, in order.
  const std::vector<opened_session>& opened_sessions() const {
    return opened_;
  }

  /// Every send_frame() call, in order.
  const std::vector<frame>& frames() const {
    return frames_;
  }

  /// The frames sent on one session, in order.
  std::vector<std::vector<uint8_t>> frames_on(session_id id) const {
    std::vector<std::vector<uint8_t>> out;
    for (const auto& f : frames_)
      if (f.id == id)
        out.push_back(f.bytes);
    return out;
  }

  /// Every close_session() call, in order.
  const std::vector<session_id>& closed_sessions() const {
    return closed_;
  }

  /// Whether open_session() asked for `id` and the test has not answered yet.
  bool is_opening(session_id id) const {
    return pending_.count(id) != 0;
  }

  /// Sessions opening or open right now.
  size_t open_count() const {
    return pending_.size() + open_.size();
  }

  bool is_open(session_id id) const {
    return open_.count(id) > 0;
  }

  bool started() const {
    return events_ != nullptr;
  }

  int stops() const {
    return stops_;
  }

  /// Forgets what was sent, keeping the sessions.
  void clear_records() {
    broadcasts_.clear();
    datagrams_.clear();
    opened_.clear();
    frames_.clear();
    closed_.clear();
  }

  /// Every session's link runs at `bps` nominally (0: unknown), as a slow link's would.
  void set_session_rate(uint64_t bps) {
    session_rate_ = bps;
  }

  /// The largest frame the link carries, as properties() and session_properties() tell it.
  void set_max_frame(size_t bytes) {
    props_.max_frame = bytes;
  }

  /// The largest datagram the link carries, as properties() tells it.
  void set_max_datagram(size_t bytes) {
    props_.max_datagram = bytes;
  }

private:
  transport_events& events() {
    if (events_ == nullptr)
      throw std::logic_error("fake_transport: event injected while not started");
    return *events_;
  }

  link_properties props_;
  std::optional<uint64_t> session_rate_;
  std::string address_;
  caf::error start_error_;
  transport_events* events_ = nullptr;
  session_id next_id_ = 1;
  int stops_ = 0;
  std::map<session_id, std::string> pending_;
  std::map<session_id, std::string> open_;
  std::vector<std::vector<uint8_t>> broadcasts_;
  std::vector<datagram> datagrams_;
  std::vector<opened_session> opened_;
  std::vector<frame> frames_;
  std::vector<session_id> closed_;
  std::map<session_id, size_t> queued_;
  std::map<session_id, size_t> consumed_;
  uint64_t datagrams_consumed_ = 0;
};

} // namespace fwrescue::test
