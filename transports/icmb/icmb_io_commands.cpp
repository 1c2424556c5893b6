#include "transports/icmb/icmb_io.hpp"

#include <algorithm>

#include <fmt/format.h>

// The ICMB loop's commands from other threads that open, feed and close sessions, and the
// datagrams it puts together from fragments. icmb_io_sessions.cpp has the frames of sessions,
// icmb_io.cpp the loop and medium access.

namespace fwrescue::icmb {

void io_loop::execute(open_command& cmd) {
  auto fail = [&](std::string reason) {
    counters_.remove(cmd.id);
    if (live())
      events_.on_session_closed(cmd.id, reason);
  };
  auto peer = parse_address(cmd.address);
  if (!peer || *peer == 0 || *peer == broadcast_address)
    return fail(
      fmt::format("malformed icmb address \"{}\": expected 0x0001 to 0xfffe", cmd.address));
  if (*peer == config_.address)
    return fail(fmt::format("{} is this node's own address", format_address(*peer)));
  auto counters = counters_.find(cmd.id);
  if (!counters)
    return;
  std::optional<uint8_t> conn;
  for (int i = 0; i < 256 && !conn; ++i) {
    auto c = next_conn_++;
    if (by_key_.count(key_of(*peer, c, false)) == 0)
      conn = c;
  }
  if (!conn)
    return fail(fmt::format("256 sessions to {} open already", format_address(*peer)));
  session s{config_.max_payload, overhead_bytes(), max_frame};
  s.peer = *peer;
  s.conn = *conn;
  s.nonce = static_cast<uint16_t>(rng_());
  s.counters = std::move(counters);
  s.opened = s.active = clock::now();
  s.open_due = s.opened;
  by_key_[key_of(s.peer, s.conn, false)] = cmd.id;
  sessions_.emplace(cmd.id, std::move(s));
}

void io_loop::execute(frame_command& cmd) {
  auto i = sessions_.find(cmd.id);
  if (i == sessions_.end() || i->second.lingering)
    return;
  if (cmd.bytes.size() > max_frame) {
    close_with(cmd.id, fmt::format("frame of {} bytes exceeds the {}-byte limit", cmd.bytes.size(),
                                   max_frame));
    return;
  }
  i->second.tx.queue(std::move(cmd.bytes));
}

void io_loop::execute(close_command& cmd) {
  auto i = sessions_.find(cmd.id);
  if (i == sessions_.end() || i->second.lingering)
    return;
  auto& s = i->second;
  counters_.remove(cmd.id);
  if (live())
    events_.on_session_closed(cmd.id, "closed locally");
  if (!s.open) {
    end_session(cmd.id);
    return;
  }
  // What was queued still goes out, for a while, and then the peer hears the close.
  s.lingering = clock::now() + std::chrono::seconds{5};
}

void io_loop::execute(abort_command& cmd) {
  auto i = sessions_.find(cmd.id);
  if (i == sessions_.end())
    return;
  auto& s = i->second;
  if (s.open)
    send_reset(s.peer, s.conn, own_flags(s), "aborted");
  close_with(cmd.id, cmd.reason);
}

void io_loop::handle_datagram(frame& f) {
  size_t count = f.ack & 0xff;
  size_t index = f.ack >> 8;
  // Fragments of a datagram hold at least 16 bytes each but the last (the smallest payload
  // size), so more than this many cannot make a datagram that fits.
  constexpr size_t max_fragments = (max_datagram + 15) / 16;
  if (count == 0 || index >= count || count > max_fragments || f.payload.size() > max_datagram) {
    ++dropped_;
    return;
  }
  if (count == 1) {
    deliver_datagram(f.src, std::move(f.payload));
    return;
  }
  auto key = uint32_t{f.src} << 16 | f.seq;
  auto i = reassembly_.find(key);
  if (i == reassembly_.end() || i->second.count != count) {
    if (i == reassembly_.end() && reassembly_.size() >= max_reassembly) {
      auto oldest = std::min_element(reassembly_.begin(), reassembly_.end(),
                                     [](auto& a, auto& b) { return a.second.age < b.second.age; });
      reassembly_.erase(oldest);
      ++dropped_;
    }
    partial p;
    p.count = static_cast<uint8_t>(count);
    p.parts.resize(count);
    i = reassembly_.insert_or_assign(key, std::move(p)).first;
  }
  auto& p = i->second;
  p.age = ++reassembly_clock_;
  if (!p.parts[index].empty())
    return; // A repeat: the first copy stands.
  // What a datagram being put together holds stays within one datagram.
  p.bytes += f.payload.size();
  if (p.bytes > max_datagram) {
    reassembly_.erase(i);
    ++dropped_;
    return;
  }
  if (!f.payload.empty())
    ++p.have;
  p.parts[index] = std::move(f.payload);
  if (p.have < count)
    return;
  std::vector<uint8_t> whole;
  for (auto& part : p.parts)
    whole.insert(whole.end(), part.begin(), part.end());
  reassembly_.erase(i);
  if (whole.size() > max_datagram) {
    ++dropped_;
    return;
  }
  deliver_datagram(f.src, std::move(whole));
}

void io_loop::deliver_datagram(uint16_t from, std::vector<uint8_t> bytes) {
  // Datagrams the receiver has not handled yet are bounded: a flood is dropped here.
  if (datagram_backlog_.load() >= config_.limits.max_datagram_backlog) {
    ++dropped_;
    return;
  }
  ++datagram_backlog_;
  if (live())
    events_.on_datagram(format_address(from), std::move(bytes));
}

} // namespace fwrescue::icmb
