#include "transports/lan/lan_io.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue::lan {

namespace {

/// How long a session closed locally may take to hand its queued frames to the peer.
constexpr auto closing_grace = std::chrono::seconds{5};

/// How long accepting pauses when the process is out of descriptors or memory.
constexpr auto accept_backoff = std::chrono::milliseconds{100};

/// Datagrams, connections or reads taken from one socket per poll() round, so that one busy
/// socket cannot starve the others.
constexpr int per_round = 64;

/// Fixed entries at the front of the poll set: wakeup, discovery, sender, listener.
constexpr size_t fixed_fds = 4;

std::string frame_limit_text(size_t size) {
  return fmt::format("frame of {} bytes exceeds the {}-byte limit", size, max_frame);
}

} // namespace

caf::expected<std::unique_ptr<io_loop>> io_loop::open(io_config config, transport_events& events,
                                                      std::atomic<session_id>& next_id,
                                                      std::atomic<uint64_t>& dropped) {
  std::unique_ptr<io_loop> loop{new io_loop(std::move(config), events, next_id, dropped)};
  const auto& cfg = loop->config_;
  auto wakeup = open_wakeup(cfg.who);
  if (!wakeup)
    return std::move(wakeup.error());
  loop->wakeup_ = std::move(*wakeup);
  auto discovery = open_discovery_socket(cfg.group.sin_addr, cfg.interface,
                                         ntohs(cfg.group.sin_port), cfg.ttl, cfg.who);
  if (!discovery)
    return std::move(discovery.error());
  loop->discovery_ = std::move(*discovery);
  auto sender = open_send_socket(cfg.interface, cfg.ttl, cfg.who);
  if (!sender)
    return std::move(sender.error());
  loop->sender_ = std::move(*sender);
  auto listener = open_listener(cfg.interface, cfg.session_port, cfg.who);
  if (!listener)
    return std::move(listener.error());
  loop->listener_ = std::move(*listener);
  auto sender_address = local_address(loop->sender_.get(), cfg.who);
  if (!sender_address)
    return std::move(sender_address.error());
  loop->sender_address_ = *sender_address;
  auto listen_address = local_address(loop->listener_.get(), cfg.who);
  if (!listen_address)
    return std::move(listen_address.error());
  loop->session_address_ = to_string(*listen_address);
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
    loop->descriptor_limit_ = nofile.rlim_cur;
  return loop;
}

io_loop::io_loop(io_config config, transport_events& events, std::atomic<session_id>& next_id,
                 std::atomic<uint64_t>& dropped)
  : config_(std::move(config)), events_(events), next_id_(next_id), dropped_(dropped),
    scratch_(64 * 1024) {
}

void io_loop::post(command cmd) {
  bool was_idle = false;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    was_idle = pending_.empty();
    pending_.push_back(std::move(cmd));
  }
  // One wakeup per batch: the loop takes the whole queue each time it wakes.
  if (was_idle) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wakeup_.get(), &one, sizeof(one));
  }
}

void io_loop::open_session(session_id id, std::string address) {
  // The counters exist before open_session() returns, so that frames sent at once are counted.
  counters_.add(id);
  post(open_command{id, std::move(address)});
}

void io_loop::send_frame(session_id id, std::vector<uint8_t> frame) {
  auto c = counters_.find(id);
  if (!c)
    return; // Closed already; its on_session_closed has been or will be delivered.
  auto size = frame.size() + 4;
  auto before = c->queued.fetch_add(size);
  if (before + size > config_.limits.max_queued) {
    c->queued.fetch_sub(size);
    ++refused_;
    post(abort_command{id, fmt::format("peer does not read: {} bytes queued, and {} more would "
                                       "pass the {}-byte limit",
                                       before, size, config_.limits.max_queued)});
    return;
  }
  post(frame_command{id, std::move(frame)});
}

size_t io_loop::queued(session_id id) const {
  auto c = counters_.find(id);
  return c ? c->queued.load() : 0;
}

void io_loop::frame_consumed(session_id id, size_t bytes) {
  auto c = counters_.find(id);
  if (!c)
    return;
  // Never below zero, whatever a receiver reports.
  auto before = c->unconsumed.load();
  size_t after = 0;
  do
    after = before - std::min(bytes, before);
  while (!c->unconsumed.compare_exchange_weak(before, after));
  // Reading from the session paused at the limit; wake the loop to take it up again.
  auto limit = config_.limits.max_unconsumed;
  if (before >= limit && after < limit) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wakeup_.get(), &one, sizeof(one));
  }
}

void io_loop::datagram_consumed() {
  auto n = datagram_backlog_.load();
  while (n > 0 && !datagram_backlog_.compare_exchange_weak(n, n - 1)) {
  }
}

void io_loop::request_stop() {
  stop_.store(true, std::memory_order_release);
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wakeup_.get(), &one, sizeof(one));
}

void io_loop::run() {
  std::vector<pollfd> fds;
  std::vector<session_id> ids;
  while (live()) {
    auto accepting = clock::now() >= accept_paused_until_;
    fds.clear();
    ids.clear();
    fds.push_back({wakeup_.get(), POLLIN, 0});
    fds.push_back({discovery_.get(), POLLIN, 0});
    fds.push_back({sender_.get(), POLLIN, 0});
    fds.push_back({listener_.get(), static_cast<short>(accepting ? POLLIN : 0), 0});
    for (auto& [id, s] : sessions_) {
      // A session whose frames are not handled yet is not read: its peer's backlog stays in the
      // socket buffers, and TCP slows the peer down.
      bool reading = s.counters->unconsumed.load() < config_.limits.max_unconsumed;
      short wanted =
        s.connecting
          ? POLLOUT
          : static_cast<short>((reading ? POLLIN : 0) | (s.stream.has_output() ? POLLOUT : 0));
      fds.push_back({s.fd.get(), wanted, 0});
      ids.push_back(id);
    }
    auto open_count = ids.size();
    for (auto& [id, s] : closing_) {
      fds.push_back(
        {s.fd.get(), static_cast<short>(POLLIN | (s.stream.has_output() ? POLLOUT : 0)), 0});
      ids.push_back(id);
    }
    auto n = ::poll(fds.data(), fds.size(), poll_timeout());
    if (n < 0 && errno != EINTR) {
      // Only too many descriptors or no memory get here; dropping the sessions frees both
      // instead of spinning.
      auto reason = "poll failed: " + errno_text(errno);
      while (!sessions_.empty())
        close_with(sessions_.begin()->first, reason);
      closing_.clear();
      continue;
    }
    if (n > 0) {
      if (fds[0].revents != 0) {
        uint64_t count = 0;
        [[maybe_unused]] auto r = ::read(wakeup_.get(), &count, sizeof(count));
      }
      if (fds[1].revents != 0)
        receive_datagrams(discovery_.get());
      if (fds[2].revents != 0)
        receive_datagrams(sender_.get());
      if (fds[3].revents != 0)
        accept_sessions();
      for (size_t i = 0; i < ids.size(); ++i) {
        auto revents = fds[fixed_fds + i].revents;
        if (revents == 0)
          continue;
        if (i < open_count)
          serve_session(ids[i], revents);
        else
          serve_closing(ids[i], revents);
      }
    }
    auto now = clock::now();
    std::erase_if(closing_, [now](const auto& entry) { return entry.second.deadline <= now; });
    if (now >= next_deadline_)
      expire_sessions();
    run_commands();
  }
}

int io_loop::poll_timeout() const {
  auto now = clock::now();
  std::optional<clock::time_point> next;
  if (accept_paused_until_ > now)
    next = accept_paused_until_;
  if (next_deadline_ != clock::time_point::max() && (!next || next_deadline_ < *next))
    next = next_deadline_;
  for (const auto& entry : closing_)
    if (!next || entry.second.deadline < *next)
      next = entry.second.deadline;
  if (!next)
    return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::clamp<decltype(ms)>(ms, 0, 60'000));
}

void io_loop::run_commands() {
  std::vector<command> batch;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    batch.swap(pending_);
  }
  for (auto& cmd : batch) {
    if (!live())
      return;
    std::visit([this](auto& c) { execute(c); }, cmd);
  }
}

void io_loop::execute(broadcast_command& cmd) {
  send_to(config_.group, cmd.bytes);
  for (const auto& peer : config_.static_peers)
    send_to(peer, cmd.bytes);
}

void io_loop::execute(datagram_command& cmd) {
  auto to = parse_endpoint(cmd.to);
  if (!to) {
    ++dropped_;
    return;
  }
  send_to(*to, cmd.bytes);
}

void io_loop::send_to(const sockaddr_in& to, const std::vector<uint8_t>& bytes) {
  ssize_t n = 0;
  do {
    n = ::sendto(sender_.get(), bytes.data(), bytes.size(), 0,
                 reinterpret_cast<const sockaddr*>(&to), sizeof(to));
  } while (n < 0 && errno == EINTR);
  // Datagrams are best effort: a full buffer or an unreachable network loses this one, and
  // discovery repeats.
  if (n < 0)
    ++dropped_;
}

void io_loop::execute(open_command& cmd) {
  auto address = parse_endpoint(cmd.address);
  if (!address) {
    counters_.remove(cmd.id);
    emit_closed(cmd.id, describe(address.error()));
    return;
  }
  auto counters = counters_.find(cmd.id);
  if (!counters)
    return;
  session s;
  s.peer = to_string(*address);
  s.source = address->sin_addr;
  s.counters = std::move(counters);
  s.opened = s.active = clock::now();
  next_deadline_ = std::min(next_deadline_, s.active + config_.limits.idle);
  s.fd = unique_fd{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (s.fd.get() < 0) {
    counters_.remove(cmd.id);
    emit_closed(cmd.id, fmt::format("connect to {}: {}", s.peer, errno_text(errno)));
    return;
  }
  set_no_delay(s.fd.get());
  auto rc = ::connect(s.fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(*address));
  if (rc != 0 && errno != EINPROGRESS) {
    counters_.remove(cmd.id);
    emit_closed(cmd.id, fmt::format("connect to {}: {}", s.peer, errno_text(errno)));
    return;
  }
  s.connecting = rc != 0;
  auto peer = s.peer;
  sessions_.emplace(cmd.id, std::move(s));
  if (rc == 0 && live())
    events_.on_session_opened(cmd.id, peer, false);
}

void io_loop::execute(frame_command& cmd) {
  auto i = sessions_.find(cmd.id);
  if (i == sessions_.end())
    return; // Already closed; its on_session_closed has been delivered.
  if (cmd.bytes.size() > max_frame) {
    close_with(cmd.id, frame_limit_text(cmd.bytes.size()));
    return;
  }
  i->second.stream.queue(std::move(cmd.bytes));
}

void io_loop::execute(abort_command& cmd) {
  if (sessions_.count(cmd.id) != 0)
    close_with(cmd.id, cmd.reason);
}

void io_loop::execute(close_command& cmd) {
  auto i = sessions_.find(cmd.id);
  if (i == sessions_.end())
    return;
  auto s = std::move(i->second);
  sessions_.erase(i);
  counters_.remove(cmd.id);
  emit_closed(cmd.id, "closed locally");
  if (s.connecting)
    return;
  linger(cmd.id, std::move(s));
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

void io_loop::receive_datagrams(int fd) {
  for (int i = 0; i < per_round; ++i) {
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    // MSG_TRUNC makes recvfrom() return the real size, so an oversized datagram is seen.
    auto n = ::recvfrom(fd, scratch_.data(), scratch_.size(), MSG_TRUNC,
                        reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return; // Drained; errors on an unconnected UDP socket concern one datagram only.
    if (same_endpoint(from, sender_address_))
      continue; // Our own broadcast, looped back so that other daemons on this host hear it.
    if (static_cast<size_t>(n) > max_datagram) {
      ++dropped_;
      continue;
    }
    // Datagrams the receiver has not handled yet are bounded: a flood is dropped here, in the
    // kernel's buffers' stead, instead of queuing without end behind the receiver.
    if (datagram_backlog_.load() >= config_.limits.max_datagram_backlog) {
      ++dropped_;
      continue;
    }
    ++datagram_backlog_;
    if (live())
      events_.on_datagram(to_string(from),
                          std::vector<uint8_t>(scratch_.begin(), scratch_.begin() + n));
  }
}

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

} // namespace fwrescue::lan
