#include "transports/icmb/icmb_io.hpp"

#include <algorithm>

#include <fmt/format.h>

// The ICMB loop's session frames received, its sessions under the session limits, their acks
// and deadlines. icmb_io_commands.cpp has the commands and datagrams, icmb_io.cpp the loop and
// medium access.

namespace fwrescue::icmb {

namespace {

std::string text_of(const std::vector<uint8_t>& bytes) {
  std::string out;
  for (auto b : bytes)
    out.push_back(b >= 0x20 && b < 0x7f ? static_cast<char>(b) : '?');
  return out;
}

} // namespace

void io_loop::handle(frame& f, clock::time_point now) {
  if (f.src == config_.address)
    return; // Our own frame, echoed by the bus.
  if (f.dst != config_.address && f.dst != broadcast_address)
    return;
  switch (f.kind) {
    case frame_kind::datagram:
      handle_datagram(f);
      return;
    case frame_kind::open:
      if (f.dst == config_.address && (f.flags & flag_from_opener) != 0)
        handle_open(f, now);
      return;
    case frame_kind::data:
    case frame_kind::ack:
    case frame_kind::open_ok:
    case frame_kind::close:
    case frame_kind::reset:
      if (f.dst == config_.address)
        handle_session_frame(f, now);
      return;
  }
}

void io_loop::handle_open(frame& f, clock::time_point now) {
  auto key = key_of(f.src, f.conn, true);
  if (auto k = by_key_.find(key); k != by_key_.end()) {
    auto& s = sessions_.at(k->second);
    if (s.nonce == f.seq) {
      // Our answer was lost: answer again.
      frame ok{f.src, config_.address, frame_kind::open_ok, 0, f.conn, f.seq, 0, {}, 0};
      queue_control(std::move(ok));
      return;
    }
    if (s.lingering)
      end_session(k->second); // Closed locally already; its event has been delivered.
    else
      close_with(k->second, "replaced by a new session from the same peer and number");
  }
  const auto& limits = config_.limits;
  uint32_t inbound = 0;
  uint32_t from_source = 0;
  std::optional<session_id> oldest_silent;
  for (const auto& [id, s] : sessions_) {
    if (!s.inbound || s.lingering)
      continue;
    ++inbound;
    from_source += s.peer == f.src ? 1 : 0;
    if (!s.handshaken && (!oldest_silent || s.opened < sessions_.at(*oldest_silent).opened))
      oldest_silent = id;
  }
  auto refuse = [&](std::string reason) {
    ++refused_;
    send_reset(f.src, f.conn, 0, std::move(reason));
  };
  if (from_source >= limits.max_inbound_per_source)
    return refuse(fmt::format("{} sessions from {} already, the limit per source", from_source,
                              format_address(f.src)));
  if (inbound >= limits.max_inbound) {
    if (!oldest_silent)
      return refuse(fmt::format("{} sessions open already, the limit", inbound));
    ++refused_;
    auto& old = sessions_.at(*oldest_silent);
    send_reset(old.peer, old.conn, own_flags(old), "replaced");
    close_with(*oldest_silent,
               "replaced by a new session: too many sessions, and this one had not spoken yet");
  }
  auto id = next_id_.fetch_add(1);
  session s{config_.max_payload, overhead_bytes(), std::min(limits.max_inbound_frame, max_frame)};
  s.peer = f.src;
  s.conn = f.conn;
  s.inbound = true;
  s.open = true;
  s.nonce = f.seq;
  s.opened = s.active = now;
  s.counters = counters_.add(id);
  by_key_[key] = id;
  sessions_.emplace(id, std::move(s));
  queue_control(frame{f.src, config_.address, frame_kind::open_ok, 0, f.conn, f.seq, 0, {}, 0});
  if (live())
    events_.on_session_opened(id, format_address(f.src), true);
}

void io_loop::handle_session_frame(frame& f, clock::time_point now) {
  bool inbound = (f.flags & flag_from_opener) != 0;
  auto k = by_key_.find(key_of(f.src, f.conn, inbound));
  if (k == by_key_.end()) {
    // Data for a session we do not have: the peer should stop at once rather than time out.
    if (f.kind == frame_kind::data)
      send_reset(f.src, f.conn, inbound ? 0 : flag_from_opener, "no such session");
    return;
  }
  auto id = k->second;
  auto& s = sessions_.at(id);
  switch (f.kind) {
    case frame_kind::open_ok:
      if (!s.inbound && !s.open && f.seq == s.nonce) {
        s.open = true;
        s.active = now;
        if (live())
          events_.on_session_opened(id, format_address(s.peer), false);
      }
      return;
    case frame_kind::reset:
      if (s.lingering) {
        end_session(id);
        return;
      }
      close_with(id, fmt::format("{} by {}: {}", s.open ? "reset" : "refused",
                                 format_address(s.peer), text_of(f.payload)));
      return;
    case frame_kind::ack: {
      s.active = now;
      bool has_sack = f.payload.size() == 4;
      uint32_t sack = has_sack ? f.payload[0] | f.payload[1] << 8 | f.payload[2] << 16
                                   | uint32_t{f.payload[3]} << 24
                               : 0;
      s.tx.on_ack(f.ack, sack, has_sack, f.start);
      return;
    }
    case frame_kind::data:
      handle_data(id, s, f, now);
      return;
    case frame_kind::close:
      if (s.lingering) {
        end_session(id);
        return;
      }
      s.close_at = widen_seq(f.seq, s.rx.expected());
      if (s.rx.expected() >= *s.close_at)
        close_with(id, "closed by peer");
      return;
    default:
      return;
  }
}

void io_loop::handle_data(session_id id, session& s, frame& f, clock::time_point now) {
  if (!s.open && !s.inbound) {
    // The peer answered our open and the answer was lost; its data says the same.
    s.open = true;
    if (live())
      events_.on_session_opened(id, format_address(s.peer), false);
  }
  s.active = now;
  s.tx.on_ack(f.ack, 0, false, f.start);
  if (s.lingering)
    return;
  // Frames the receiver has not handled yet are bounded: past the limit, payloads are not
  // taken (nor acknowledged), so the peer's backlog stays in its own queue.
  if (s.counters->unconsumed.load() >= config_.limits.max_unconsumed)
    return;
  std::optional<std::string> error;
  auto result = s.rx.on_data(
    f.seq, std::move(f.payload),
    [&](std::vector<uint8_t> bytes) {
      s.handshaken = true;
      s.counters->unconsumed += bytes.size();
      if (live())
        events_.on_frame(id, std::move(bytes));
    },
    error);
  if (error) {
    ++refused_;
    send_reset(s.peer, s.conn, own_flags(s), *error);
    close_with(id, *error);
    return;
  }
  if (result == receive_window::result::fresh)
    ++s.unacked;
  if (result != receive_window::result::fresh || s.rx.sack() != 0
      || (f.flags & flag_ack_request) != 0)
    s.ack_now = true;
  if ((s.ack_now || s.unacked >= ack_every) && !s.ack_queued) {
    ack_queue_.push_back(id);
    s.ack_queued = true;
  }
  if (s.close_at && s.rx.expected() >= *s.close_at)
    close_with(id, "closed by peer");
}

frame io_loop::make_ack(session& s) {
  frame f{s.peer, config_.address, frame_kind::ack, own_flags(s), s.conn, 0, s.rx.cumulative(), {},
          0};
  auto sack = s.rx.sack();
  f.payload = {static_cast<uint8_t>(sack), static_cast<uint8_t>(sack >> 8),
               static_cast<uint8_t>(sack >> 16), static_cast<uint8_t>(sack >> 24)};
  s.unacked = 0;
  s.ack_now = false;
  return f;
}

void io_loop::send_reset(uint16_t to, uint8_t conn, uint8_t flags, std::string reason) {
  // Resets answer what peers send, so a peer that floods opens or stray data would line up
  // one for each ahead of every other answer: only a few wait at once, and the rest of the
  // flood goes unanswered (its sender's own timers tell it).
  auto waiting = std::count_if(control_.begin(), control_.end(),
                               [](const auto& e) { return e.f.kind == frame_kind::reset; });
  if (static_cast<size_t>(waiting) >= max_queued_resets)
    return;
  frame f{to, config_.address, frame_kind::reset, flags, conn, 0, 0, {}, 0};
  reason.resize(std::min<size_t>(reason.size(), 200));
  f.payload.assign(reason.begin(), reason.end());
  queue_control(std::move(f));
}

std::optional<io_loop::outgoing> io_loop::next_data_frame(clock::time_point now) {
  if (sessions_.empty())
    return std::nullopt;
  auto start = sessions_.upper_bound(last_served_);
  for (size_t n = 0; n < sessions_.size(); ++n, ++start) {
    if (start == sessions_.end())
      start = sessions_.begin();
    auto& [id, s] = *start;
    if (!s.open || !s.tx.has_work())
      continue;
    auto pick = s.tx.next();
    if (!pick)
      continue;
    last_served_ = id;
    s.active = now;
    uint8_t flags = own_flags(s) | (pick->ack_request ? flag_ack_request : 0);
    outgoing out{frame{s.peer, config_.address, frame_kind::data, flags, s.conn,
                       static_cast<uint16_t>(pick->seq), s.rx.cumulative(), *pick->payload, 0},
                 id, pick->seq};
    if (pick->retransmit) {
      std::lock_guard<std::mutex> guard{stats_mutex_};
      ++stats_.retransmissions;
    }
    if (pick->fresh_bytes > 0 && !s.lingering) {
      auto low = config_.limits.max_queued / 2;
      auto was = s.counters->queued.fetch_sub(pick->fresh_bytes);
      if (was >= low && was - pick->fresh_bytes < low && live())
        events_.on_session_drained(id);
    }
    return out;
  }
  return std::nullopt;
}

size_t io_loop::overhead_bytes() const {
  const auto& t = config_.times;
  return frame_overhead + static_cast<size_t>((t.data_gap + t.jitter / 2) / t.byte_time);
}

std::chrono::nanoseconds io_loop::rto_of(const session& s) const {
  return config_.times.rto * (int64_t{1} << s.tx.backoff());
}

void io_loop::expire_sessions(clock::time_point now) {
  std::vector<session_id> ids;
  ids.reserve(sessions_.size());
  for (const auto& entry : sessions_)
    ids.push_back(entry.first);
  for (auto id : ids)
    if (auto i = sessions_.find(id); i != sessions_.end())
      expire(id, i->second, now);
}

void io_loop::expire(session_id id, session& s, clock::time_point now) {
  const auto& limits = config_.limits;
  const auto& times = config_.times;
  if (s.lingering) {
    if (s.tx.idle() || now >= *s.lingering) {
      queue_control(frame{s.peer,
                          config_.address,
                          frame_kind::close,
                          own_flags(s),
                          s.conn,
                          static_cast<uint16_t>(s.tx.next_seq()),
                          0,
                          {},
                          0});
      end_session(id);
      return;
    }
  } else if (!s.open) {
    if (now < s.open_due)
      return;
    if (s.open_sent >= times.open_tries) {
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.opened);
      close_with(id, fmt::format("no answer from {}: {} opens over {} ms went unanswered",
                                 format_address(s.peer), s.open_sent, waited.count()));
      return;
    }
    ++s.open_sent;
    s.open_due = clock::time_point::max();
    queue_control(
      frame{s.peer, config_.address, frame_kind::open, flag_from_opener, s.conn, s.nonce, 0, {}, 0},
      id);
    return;
  } else {
    if (s.inbound && !s.handshaken && now >= s.opened + limits.handshake) {
      ++refused_;
      send_reset(s.peer, s.conn, own_flags(s), "no frame within the handshake time");
      close_with(id,
                 fmt::format("no whole frame within {} ms of opening", limits.handshake.count()));
      return;
    }
    if (now >= s.active + limits.idle) {
      ++refused_;
      close_with(id, fmt::format("nothing sent or received for {} ms", limits.idle.count()));
      return;
    }
  }
  s.tx.expire(now, rto_of(s));
  // The sender has gone quiet without asking: acknowledge what came in since the last ack.
  if (s.unacked > 0 && !s.ack_queued && now - last_rx_ >= times.quiet) {
    ack_queue_.push_back(id);
    s.ack_queued = true;
  }
}

std::optional<clock::time_point> io_loop::session_deadline() const {
  std::optional<clock::time_point> at;
  auto consider = [&](clock::time_point t) {
    if (!at || t < *at)
      at = t;
  };
  const auto& limits = config_.limits;
  for (const auto& [id, s] : sessions_) {
    if (s.lingering) {
      consider(*s.lingering);
      continue;
    }
    if (!s.open) {
      if (s.open_due != clock::time_point::max())
        consider(s.open_due);
      continue;
    }
    if (s.inbound && !s.handshaken)
      consider(s.opened + limits.handshake);
    consider(s.active + limits.idle);
    if (auto d = s.tx.deadline(rto_of(s)))
      consider(*d);
    if (s.unacked > 0 && !s.ack_queued)
      consider(last_rx_ + config_.times.quiet);
  }
  return at;
}

void io_loop::close_with(session_id id, const std::string& reason) {
  end_session(id);
  if (live())
    events_.on_session_closed(id, reason);
}

void io_loop::end_session(session_id id) {
  auto i = sessions_.find(id);
  if (i == sessions_.end())
    return;
  by_key_.erase(key_of(i->second.peer, i->second.conn, i->second.inbound));
  sessions_.erase(i);
  counters_.remove(id);
}

} // namespace fwrescue::icmb
