#include "transports/lan/lan_io.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue::lan {

namespace {

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
  // Sessions leave from the configured interface's address, as discovery does: the donor's
  // per-source limits count this node, not whichever address the routing table would pick
  // (on a host with several, or on loopback, where every node would be 127.0.0.1). The port is
  // chosen at connect, so binding does not use one up per session.
  int no_port = 1;
  ::setsockopt(s.fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &no_port, sizeof(no_port));
  auto local = endpoint(config_.interface, 0);
  if (::bind(s.fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
    counters_.remove(cmd.id);
    emit_closed(cmd.id, fmt::format("connect to {} from {}: {}", s.peer, to_string(local),
                                    errno_text(errno)));
    return;
  }
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

} // namespace fwrescue::lan
