#include "transports/lan/lan_io.hpp"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

// The I/O loop's work on TCP sessions: taking them in under the session limits, reading and
// writing their frames, their deadlines, and closing them. lan_io.cpp has the loop itself, the
// commands of other threads and the datagrams.

namespace fwrescue::lan {

void io_loop::accept_sessions() {
  for (int i = 0; i < per_round; ++i) {
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    unique_fd fd{::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&from), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC)};
    if (fd.get() < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        accept_paused_until_ = clock::now() + accept_backoff;
      return;
    }
    auto verdict =
      admit_inbound(sessions_, from.sin_addr, fd.get(), config_.limits, descriptor_limit_);
    if (!verdict.admit) {
      // Closed at once: the peer sees its connection end, and the descriptor is free again.
      ++refused_;
      continue;
    }
    if (verdict.evict) {
      ++refused_;
      close_with(*verdict.evict, "replaced by a new session: too many sessions, and this one had "
                                 "not spoken yet");
    }
    set_no_delay(fd.get());
    auto id = next_id_.fetch_add(1);
    session s;
    s.stream = framed_stream{config_.limits.max_inbound_frame};
    s.fd = std::move(fd);
    s.peer = to_string(from);
    s.source = from.sin_addr;
    s.inbound = true;
    s.opened = s.active = clock::now();
    s.counters = counters_.add(id);
    next_deadline_ =
      std::min(next_deadline_, s.opened + std::min(config_.limits.handshake, config_.limits.idle));
    auto peer = s.peer;
    sessions_.emplace(id, std::move(s));
    if (live())
      events_.on_session_opened(id, peer, true);
  }
}

void io_loop::serve_session(session_id id, short revents) {
  auto i = sessions_.find(id);
  if (i == sessions_.end())
    return;
  auto& s = i->second;
  if (s.connecting) {
    finish_connect(id, s);
    return;
  }
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    s.active = clock::now();
    auto reason = s.stream.read(s.fd.get(), [this, id, &s](std::vector<uint8_t> frame) {
      s.handshaken = true;
      s.counters->unconsumed += frame.size();
      if (live())
        events_.on_frame(id, std::move(frame));
    });
    if (reason) {
      close_with(id, *reason);
      return;
    }
  }
  if (s.stream.has_output())
    if (auto reason = flush(id, s))
      close_with(id, *reason);
}

std::optional<std::string> io_loop::flush(session_id id, session& s) {
  auto before = s.stream.queued_bytes();
  auto reason = s.stream.flush(s.fd.get());
  auto written = before - s.stream.queued_bytes();
  if (written == 0)
    return reason;
  s.active = clock::now();
  auto low = config_.limits.max_queued / 2;
  auto was = s.counters->queued.fetch_sub(written);
  if (was >= low && was - written < low && live() && !reason)
    events_.on_session_drained(id);
  return reason;
}

void io_loop::expire_sessions() {
  auto now = clock::now();
  next_deadline_ = clock::time_point::max();
  std::vector<std::pair<session_id, std::string>> due;
  for (const auto& [id, s] : sessions_)
    if (auto reason = expired(s, config_.limits, now, next_deadline_))
      due.emplace_back(id, std::move(*reason));
  for (auto& [id, reason] : due) {
    ++refused_;
    close_with(id, reason);
  }
}

void io_loop::finish_connect(session_id id, session& s) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(s.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    err = errno;
  if (err != 0) {
    close_with(id, fmt::format("connect to {}: {}", s.peer, errno_text(err)));
    return;
  }
  s.connecting = false;
  if (live())
    events_.on_session_opened(id, s.peer, false);
  // Frames queued while connecting go out when poll() next reports the socket writable.
}

void io_loop::serve_closing(session_id id, short revents) {
  auto i = closing_.find(id);
  if (i == closing_.end())
    return;
  auto& s = i->second;
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    // Nobody wants these bytes any more; reading them on avoids a reset while our last frames
    // are in flight. End of stream or an error means the peer is done.
    for (int round = 0; round < per_round; ++round) {
      auto n = ::recv(s.fd.get(), scratch_.data(), scratch_.size(), 0);
      if (n > 0 || (n < 0 && errno == EINTR))
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      closing_.erase(i);
      return;
    }
  }
  if (s.stream.has_output() && s.stream.flush(s.fd.get())) {
    closing_.erase(i);
    return;
  }
  if (!s.stream.has_output() && !s.write_shut) {
    ::shutdown(s.fd.get(), SHUT_WR);
    s.write_shut = true;
  }
}

void io_loop::close_with(session_id id, const std::string& reason) {
  sessions_.erase(id);
  counters_.remove(id);
  emit_closed(id, reason);
}

void io_loop::emit_closed(session_id id, const std::string& reason) {
  if (live())
    events_.on_session_closed(id, reason);
}

void io_loop::linger(session_id id, session s) {
  // Frames queued before the close still reach the peer: write them, send end of stream, and
  // close once the peer closes too. Closing at once could reset the connection and lose them.
  // Lingering costs a descriptor and the queued bytes, so only so many sessions may linger.
  s.deadline = clock::now() + closing_grace;
  if (!s.stream.has_output()) {
    ::shutdown(s.fd.get(), SHUT_WR);
    s.write_shut = true;
  }
  while (closing_.size() >= config_.limits.max_inbound) {
    auto oldest = std::min_element(closing_.begin(), closing_.end(), [](auto& a, auto& b) {
      return a.second.deadline < b.second.deadline;
    });
    closing_.erase(oldest);
  }
  closing_.emplace(id, std::move(s));
}

} // namespace fwrescue::lan
