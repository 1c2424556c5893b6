#include "transports/ble/ble_io.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"

// The I/O loop's work on channels: taking them in under the session limits, setting them up,
// reading and writing their SDUs, their deadlines, and dropping them.

namespace fwrescue::ble {

void io_loop::accept_channels() {
  for (int i = 0; i < per_round; ++i) {
    auto ch = adapter_->accept();
    if (!ch) {
      // Out of descriptors or memory: accepting pauses, so poll() does not spin on it.
      accept_paused_until_ = clock::now() + accept_backoff;
      return;
    }
    if (!*ch)
      return;
    auto unknown = std::count_if(links_.begin(), links_.end(),
                                 [](const auto& e) { return e.second.inbound && !e.second.kind; });
    auto fd = static_cast<uint64_t>((*ch)->fd());
    if ((descriptor_limit_ > 0 && fd + config_.limits.descriptor_reserve >= descriptor_limit_)
        || static_cast<uint64_t>(unknown) >= config_.limits.max_inbound) {
      // Closed at once: the peer sees its channel end, and the descriptor is free again.
      ++refused_;
      continue;
    }
    link l;
    l.ch = std::move(*ch);
    l.inbound = true;
    l.kind_sent = true;
    l.opened = l.active = clock::now();
    // Keyed like a session from the start, so that it keeps its key if it becomes one.
    l.id = next_id_.fetch_add(1);
    links_.emplace(l.id, std::move(l));
  }
}

bool io_loop::reading(const link& l) const {
  if (!l.open || l.closing)
    return false;
  if (l.kind != channel_kind::session)
    return true;
  // A session whose frames are not handled yet is not read: no credit goes back, so the peer's
  // backlog stays with the peer.
  return l.counters && l.counters->unconsumed.load() < config_.limits.max_unconsumed;
}

bool io_loop::writing(const link& l) const {
  return l.open && (!l.kind_sent || l.sdu_built || !l.out.empty());
}

void io_loop::serve(link_map::iterator it) {
  auto& l = it->second;
  if (!l.open) {
    auto up = l.ch->progress();
    if (!up) {
      drop(it, describe(up.error()));
      return;
    }
    if (!*up)
      return;
    if (l.ch->send_mtu() < min_mtu) {
      drop(it, fmt::format("connect to {}: the peer's MTU of {} is below the minimum of {}",
                           to_string(l.ch->peer()), l.ch->send_mtu(), min_mtu));
      return;
    }
    l.open = true;
    l.peer = l.ch->peer();
    l.active = clock::now();
    if (!l.inbound && l.kind == channel_kind::session && live())
      events_.on_session_opened(l.id, to_string(l.peer), false);
  }
  if (reading(l))
    if (auto reason = read(l)) {
      drop(it, *reason);
      return;
    }
  if (writing(l))
    if (auto reason = write(l)) {
      drop(it, *reason);
      return;
    }
  if (l.closing && !writing(l))
    links_.erase(it);
}

std::optional<std::string> io_loop::read(link& l) {
  std::string reason;
  for (int i = 0; i < per_round && reading(l); ++i) {
    auto status = l.ch->receive(sdu_in_, reason);
    if (status == io_status::blocked)
      return std::nullopt;
    if (status != io_status::done)
      return reason;
    l.active = clock::now();
    if (!l.kind) {
      if (auto refused = take_kind(l, sdu_in_))
        return refused;
      continue;
    }
    auto got = l.in.feed(sdu_in_);
    if (got.error)
      return got.error;
    if (!got.message)
      continue;
    if (l.kind == channel_kind::session) {
      l.handshaken = true;
      l.counters->unconsumed += got.message->size();
      if (live())
        events_.on_frame(l.id, std::move(*got.message));
      continue;
    }
    // Datagrams the receiver has not handled yet are bounded: a flood is dropped here.
    if (datagram_backlog_.load() >= config_.limits.max_datagram_backlog) {
      ++dropped_;
      continue;
    }
    ++datagram_backlog_;
    if (live())
      events_.on_datagram(to_string(l.peer), std::move(*got.message));
  }
  return std::nullopt;
}

std::optional<std::string> io_loop::take_kind(link& l, std::span<const uint8_t> sdu) {
  auto kind = parse_kind(sdu);
  if (!kind) {
    ++refused_;
    return std::string{"the channel's first SDU names no kind"};
  }
  if (*kind == channel_kind::datagrams) {
    // One inbound datagram channel per peer: a peer that opens another has given up the old.
    uint32_t count = 0;
    for (auto i = links_.begin(); i != links_.end();) {
      const auto& o = i->second;
      if (&o != &l && o.inbound && o.kind == channel_kind::datagrams && o.peer == l.peer) {
        i = links_.erase(i);
        continue;
      }
      count += (&o != &l && o.inbound && o.kind == channel_kind::datagrams) ? 1 : 0;
      ++i;
    }
    if (count >= config_.limits.max_inbound) {
      ++refused_;
      return fmt::format("{} datagram channels open already, the limit", count);
    }
    l.kind = kind;
    l.handshaken = true;
    l.in = sdu_reassembler{max_datagram};
    return std::nullopt;
  }
  return admit_session(l);
}

std::optional<std::string> io_loop::admit_session(link& l) {
  uint32_t inbound = 0;
  uint32_t from_source = 0;
  const std::pair<const uint64_t, link>* oldest_silent = nullptr;
  for (const auto& entry : links_) {
    const auto& o = entry.second;
    if (&o == &l || !o.inbound || o.kind != channel_kind::session || o.closing)
      continue;
    ++inbound;
    from_source += o.peer == l.peer ? 1 : 0;
    if (!o.handshaken && (!oldest_silent || o.opened < oldest_silent->second.opened))
      oldest_silent = &entry;
  }
  if (from_source >= config_.limits.max_inbound_per_source) {
    ++refused_;
    return fmt::format("{} sessions from {} already, the limit per source", from_source,
                       to_string(l.peer));
  }
  if (inbound >= config_.limits.max_inbound) {
    ++refused_;
    if (!oldest_silent)
      return fmt::format("{} sessions open already, the limit", inbound);
    drop(links_.find(oldest_silent->first),
         "replaced by a new session: too many sessions, and this one had not spoken yet");
  }
  l.kind = channel_kind::session;
  l.in = sdu_reassembler{std::min(config_.limits.max_inbound_frame, max_frame)};
  l.counters = counters_.add(l.id);
  if (live())
    events_.on_session_opened(l.id, to_string(l.peer), true);
  return std::nullopt;
}

std::optional<std::string> io_loop::write(link& l) {
  std::string reason;
  if (!l.kind_sent) {
    uint8_t kind = static_cast<uint8_t>(*l.kind);
    auto status = l.ch->send(std::span<const uint8_t>{&kind, 1}, reason);
    if (status == io_status::blocked)
      return std::nullopt;
    if (status != io_status::done)
      return reason;
    l.kind_sent = true;
  }
  auto mtu = l.ch->send_mtu();
  for (int i = 0; i < per_round; ++i) {
    if (!l.sdu_built) {
      if (l.out.empty())
        break;
      l.out.next(mtu, l.sdu);
      l.sdu_built = true;
    }
    auto status = l.ch->send(l.sdu, reason);
    if (status == io_status::blocked)
      break;
    if (status != io_status::done)
      return reason;
    auto [bytes, finished] = l.out.advance(mtu);
    l.sdu_built = false;
    l.active = clock::now();
    if (l.kind == channel_kind::datagrams) {
      l.datagrams -= finished ? 1 : 0;
      continue;
    }
    // queued() counts each frame's bytes and its 4-byte length.
    auto written = bytes + (finished ? message_header : 0);
    auto low = config_.limits.max_queued / 2;
    auto was = l.counters->queued.fetch_sub(written);
    if (was >= low && was - written < low && !l.closing && live())
      events_.on_session_drained(l.id);
  }
  return std::nullopt;
}

void io_loop::expire() {
  auto now = clock::now();
  const auto& limits = config_.limits;
  for (auto it = links_.begin(); it != links_.end();) {
    auto next = std::next(it);
    const auto& l = it->second;
    std::optional<std::string> reason;
    if (l.closing) {
      if (l.deadline <= now)
        links_.erase(it);
    } else if (l.inbound && !l.handshaken && now >= l.opened + limits.handshake) {
      ++refused_;
      drop(it, fmt::format("no whole frame within {} ms of connecting", limits.handshake.count()));
    } else if (!l.open && !l.inbound && now >= l.active + limits.idle) {
      drop(it, fmt::format("connect to {}: no answer within {} ms", to_string(l.peer),
                           limits.idle.count()));
    } else if (now >= l.active + limits.idle) {
      // An idle datagram channel just closes: the next datagram opens a new one.
      if (l.kind == channel_kind::session)
        ++refused_;
      drop(it, fmt::format("nothing sent or received for {} ms", limits.idle.count()));
    }
    it = next;
  }
}

void io_loop::drop(link_map::iterator it, const std::string& reason) {
  auto& l = it->second;
  if (l.kind == channel_kind::session && !l.closing && l.counters) {
    counters_.remove(l.id);
    if (live())
      events_.on_session_closed(l.id, reason);
  }
  dropped_ += l.datagrams;
  links_.erase(it);
}

} // namespace fwrescue::ble
