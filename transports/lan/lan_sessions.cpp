#include "transports/lan/lan_sessions.hpp"

#include <fmt/format.h>

namespace fwrescue::lan {

std::shared_ptr<session_counters> counter_table::add(session_id id) {
  auto c = std::make_shared<session_counters>();
  std::lock_guard<std::mutex> guard{mutex_};
  table_[id] = c;
  return c;
}

void counter_table::remove(session_id id) {
  std::lock_guard<std::mutex> guard{mutex_};
  table_.erase(id);
}

std::shared_ptr<session_counters> counter_table::find(session_id id) const {
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = table_.find(id);
  return i == table_.end() ? nullptr : i->second;
}

admission admit_inbound(const std::map<session_id, session>& sessions, in_addr source, int fd,
                        const session_limits& limits, uint64_t descriptor_limit) {
  admission out;
  if (descriptor_limit > 0 && uint64_t(fd) + limits.descriptor_reserve >= descriptor_limit) {
    out.reason = fmt::format("descriptor {} is within the reserve of {} below the limit of {}", fd,
                             limits.descriptor_reserve, descriptor_limit);
    return out;
  }
  uint32_t inbound = 0;
  uint32_t from_source = 0;
  const std::pair<const session_id, session>* oldest_silent = nullptr;
  for (const auto& entry : sessions) {
    const auto& s = entry.second;
    if (!s.inbound)
      continue;
    ++inbound;
    from_source += s.source.s_addr == source.s_addr ? 1 : 0;
    if (!s.handshaken && (!oldest_silent || s.opened < oldest_silent->second.opened))
      oldest_silent = &entry;
  }
  if (from_source >= limits.max_inbound_per_source) {
    out.reason = fmt::format("{} sessions from {} already, the limit per source", from_source,
                             to_string(source));
    return out;
  }
  if (inbound >= limits.max_inbound) {
    if (!oldest_silent) {
      out.reason = fmt::format("{} sessions open already, the limit", inbound);
      return out;
    }
    out.evict = oldest_silent->first;
  }
  out.admit = true;
  return out;
}

std::optional<std::string> expired(const session& s, const session_limits& limits,
                                   clock::time_point now, clock::time_point& next) {
  auto consider = [&](clock::time_point at) {
    if (at < next)
      next = at;
    return at <= now;
  };
  if (s.inbound && !s.handshaken && consider(s.opened + limits.handshake))
    return fmt::format("no whole frame within {} ms of connecting", limits.handshake.count());
  if (consider(s.active + limits.idle))
    return fmt::format("nothing sent or received for {} ms", limits.idle.count());
  return std::nullopt;
}

} // namespace fwrescue::lan
