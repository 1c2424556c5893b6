#include "transports/link_set.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

namespace {

/// Low bits of a session id that name its link.
constexpr unsigned link_bits = 3;
// One index past the links is kept for sessions no link takes.
static_assert(link_set::max_links < size_t{1} << link_bits);

session_id outer_id(session_id local, size_t index) {
  return (local << link_bits) | index;
}

session_id local_id(session_id outer) {
  return outer >> link_bits;
}

std::string typed(const std::string& name, const std::string& address) {
  return address.empty() ? std::string{} : name + ":" + address;
}

} // namespace

/// Passes one link's events on with the link's prefix on addresses and its index in ids.
class link_set::relay : public transport_events {
public:
  relay(transport_events& out, std::string prefix, size_t index)
    : out_(out), prefix_(std::move(prefix)), index_(index) {
  }
  void on_datagram(const std::string& from, std::vector<uint8_t> bytes) override {
    out_.on_datagram(prefix_ + from, std::move(bytes));
  }
  void on_session_opened(session_id id, const std::string& peer, bool inbound) override {
    out_.on_session_opened(outer_id(id, index_), prefix_ + peer, inbound);
  }
  void on_frame(session_id id, std::vector<uint8_t> bytes) override {
    out_.on_frame(outer_id(id, index_), std::move(bytes));
  }
  void on_session_closed(session_id id, const std::string& reason) override {
    out_.on_session_closed(outer_id(id, index_), reason);
  }
  void on_session_drained(session_id id) override {
    out_.on_session_drained(outer_id(id, index_));
  }

private:
  transport_events& out_;
  std::string prefix_;
  size_t index_;
};

link_set::link_set(std::vector<std::shared_ptr<transport>> links, warning warn)
  : warn_(std::move(warn)) {
  for (auto& l : links) {
    auto m = std::make_unique<member>();
    m->name = l->properties().kind;
    m->link = std::move(l);
    members_.push_back(std::move(m));
  }
}

link_set::~link_set() {
  stop();
}

std::optional<std::pair<std::string, std::string>> link_set::split(std::string_view address) {
  auto colon = address.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return std::nullopt;
  return std::pair{std::string{address.substr(0, colon)}, std::string{address.substr(colon + 1)}};
}

caf::error link_set::start(transport_events& events) {
  if (members_.empty())
    return make_error(errc::invalid_argument, "no link is enabled: enable [lan], [icmb] or [ble]");
  if (members_.size() > max_links)
    return make_error(errc::invalid_argument,
                      fmt::format("{} links configured; at most {}", members_.size(), max_links));
  std::vector<std::string> failures;
  for (size_t i = 0; i < members_.size(); ++i) {
    auto& m = *members_[i];
    for (size_t j = 0; j < i; ++j)
      if (members_[j]->name == m.name)
        return make_error(errc::invalid_argument, fmt::format("link {} listed twice", m.name));
    m.events = std::make_unique<relay>(events, m.name + ":", i);
    events_ = &events;
    if (auto err = m.link->start(*m.events)) {
      m.error = describe(err);
      failures.push_back(m.error);
      if (warn_)
        warn_(fmt::format("link {} is down, the node runs without it: {}", m.name, m.error));
      continue;
    }
    m.error.clear();
    m.up = true;
  }
  if (failures.size() == members_.size())
    return make_error(errc::io_failure,
                      fmt::format("no link could start: {}", fmt::join(failures, "; ")));
  return caf::none;
}

void link_set::stop() {
  for (auto& m : members_)
    if (m->up.exchange(false))
      m->link->stop();
}

link_properties link_set::properties() const {
  link_properties p;
  p.kind = "set";
  p.max_datagram = std::numeric_limits<size_t>::max();
  p.max_frame = std::numeric_limits<size_t>::max();
  bool any = false;
  for (const auto& m : members_) {
    if (!m->up)
      continue;
    auto lp = m->link->properties();
    any = true;
    p.max_datagram = std::min(p.max_datagram, lp.max_datagram);
    p.max_frame = std::min(p.max_frame, lp.max_frame);
    if (lp.nominal_rate_bps != 0
        && (p.slowest_rate_bps == 0 || lp.nominal_rate_bps < p.slowest_rate_bps)) {
      p.slowest_rate_bps = lp.nominal_rate_bps;
      p.slowest_latency_us = lp.latency_us;
    }
    if (lp.nominal_rate_bps > p.nominal_rate_bps) {
      p.nominal_rate_bps = lp.nominal_rate_bps;
      p.latency_us = lp.latency_us;
    }
  }
  if (!any)
    p.max_datagram = p.max_frame = 0;
  return p;
}

link_properties link_set::session_properties(session_id id) const {
  if (auto* m = member_of(id))
    return m->link->session_properties(local_id(id));
  return properties();
}

link_properties link_set::address_properties(const std::string& address) const {
  std::string local;
  if (auto* m = route(address, local))
    return m->link->address_properties(local);
  return properties();
}

std::string link_set::session_address() const {
  for (const auto& m : members_)
    if (m->up)
      return typed(m->name, m->link->session_address());
  return {};
}

std::string link_set::session_address_for(const std::string& from) const {
  std::string local;
  if (auto* m = route(from, local))
    return typed(m->name, m->link->session_address_for(local));
  return session_address();
}

link_set::member* link_set::route(const std::string& address, std::string& local) const {
  auto parts = split(address);
  if (!parts)
    return nullptr;
  // "192.0.2.7:47711" has no link's name before its colon: a LAN address as a node of the
  // previous release wrote it in its offers.
  bool named = std::all_of(parts->first.begin(), parts->first.end(),
                           [](char c) { return c >= 'a' && c <= 'z'; });
  if (!named) {
    parts->second = address;
    parts->first = "lan";
  }
  for (const auto& m : members_)
    if (m->name == parts->first && m->up) {
      local = std::move(parts->second);
      return m.get();
    }
  return nullptr;
}

size_t link_set::index_of(const member* m) const {
  return static_cast<size_t>(
    std::find_if(members_.begin(), members_.end(), [m](const auto& p) { return p.get() == m; })
    - members_.begin());
}

link_set::member* link_set::member_of(session_id id) const {
  auto index = id & ((session_id{1} << link_bits) - 1);
  if (index >= members_.size() || !members_[index]->up)
    return nullptr;
  return members_[index].get();
}

void link_set::broadcast(std::vector<uint8_t> datagram) {
  size_t up = 0;
  for (const auto& m : members_)
    up += m->up ? 1 : 0;
  for (const auto& m : members_) {
    if (!m->up)
      continue;
    // The last link takes the bytes; the others get copies.
    m->link->broadcast(--up == 0 ? std::move(datagram) : datagram);
  }
}

void link_set::send_datagram(const std::string& to, std::vector<uint8_t> datagram) {
  std::string local;
  if (auto* m = route(to, local))
    m->link->send_datagram(local, std::move(datagram));
}

session_id link_set::open_session(const std::string& address) {
  std::string local;
  if (auto* m = route(address, local))
    return outer_id(m->link->open_session(local), index_of(m));
  // No link takes it: the session is reported closed at once, under an id no link uses. The
  // owner claims ids through the router, which keeps events that come before the claim.
  auto id = outer_id(unroutable_++, max_links);
  auto parts = split(address);
  auto reason = parts ? fmt::format("no {} link is up on this node", parts->first)
                      : fmt::format("address \"{}\" names no link (expected kind:address)", address);
  if (events_)
    events_->on_session_closed(id, reason);
  return id;
}

void link_set::send_frame(session_id id, std::vector<uint8_t> frame) {
  if (auto* m = member_of(id))
    m->link->send_frame(local_id(id), std::move(frame));
}

size_t link_set::queued(session_id id) const {
  auto* m = member_of(id);
  return m ? m->link->queued(local_id(id)) : 0;
}

void link_set::frame_consumed(session_id id, size_t bytes) {
  if (auto* m = member_of(id))
    m->link->frame_consumed(local_id(id), bytes);
}

void link_set::datagram_consumed() {
  for (const auto& m : members_)
    if (m->up) {
      m->link->datagram_consumed();
      return;
    }
}

void link_set::datagram_consumed_from(const std::string& from) {
  std::string local;
  if (auto* m = route(from, local))
    m->link->datagram_consumed_from(local);
}

void link_set::close_session(session_id id) {
  if (auto* m = member_of(id))
    m->link->close_session(local_id(id));
}

transport_counters link_set::counters() const {
  transport_counters total;
  for (const auto& m : members_) {
    if (!m->up)
      continue;
    auto c = m->link->counters();
    total.dropped_datagrams += c.dropped_datagrams;
    total.refused_sessions += c.refused_sessions;
  }
  return total;
}

std::vector<link_status> link_set::links() const {
  std::vector<link_status> out;
  for (const auto& m : members_) {
    link_status s;
    s.name = m->name;
    s.up = m->up;
    s.error = m->error;
    s.properties = m->link->properties();
    if (s.up) {
      s.address = typed(m->name, m->link->session_address());
      s.counters = m->link->counters();
    }
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace fwrescue
