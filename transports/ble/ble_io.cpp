#include "transports/ble/ble_io.hpp"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "transports/lan/lan_socket.hpp"

// The BLE transport's loop and the commands of other threads. ble_io_links.cpp serves the
// channels themselves.

namespace fwrescue::ble {

io_loop::io_loop(io_config config, std::unique_ptr<adapter> adapter, transport_events& events,
                 std::atomic<session_id>& next_id, std::atomic<uint64_t>& dropped, unique_fd wakeup)
  : config_(std::move(config)), adapter_(std::move(adapter)), events_(events), next_id_(next_id),
    dropped_(dropped), wakeup_(std::move(wakeup)) {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
    descriptor_limit_ = nofile.rlim_cur;
}

void io_loop::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wakeup_.get(), &one, sizeof(one));
}

void io_loop::post(command cmd) {
  bool was_idle = false;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    was_idle = pending_.empty();
    pending_.push_back(std::move(cmd));
  }
  if (was_idle)
    wake();
}

void io_loop::open_session(session_id id, std::string address) {
  // The counters exist before open_session() returns, so that frames sent at once are counted.
  counters_.add(id);
  post(open_command{id, std::move(address)});
}

void io_loop::send_frame(session_id id, std::vector<uint8_t> frame) {
  auto c = counters_.find(id);
  if (!c)
    return;
  auto size = frame.size() + message_header;
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
  auto before = c->unconsumed.load();
  size_t after = 0;
  do
    after = before - std::min(bytes, before);
  while (!c->unconsumed.compare_exchange_weak(before, after));
  // Reading paused at the limit (and with it the credits going back); take it up again.
  auto limit = config_.limits.max_unconsumed;
  if (before >= limit && after < limit)
    wake();
}

void io_loop::datagram_consumed() {
  auto n = datagram_backlog_.load();
  while (n > 0 && !datagram_backlog_.compare_exchange_weak(n, n - 1)) {
  }
}

void io_loop::request_stop() {
  stop_.store(true, std::memory_order_release);
  wake();
}

void io_loop::run() {
  std::vector<pollfd> fds;
  std::vector<uint64_t> keys;
  while (live()) {
    fds.clear();
    keys.clear();
    fds.push_back({wakeup_.get(), POLLIN, 0});
    auto accepting = clock::now() >= accept_paused_until_;
    fds.push_back({adapter_->listen_fd(), static_cast<short>(accepting ? POLLIN : 0), 0});
    for (auto& [key, l] : links_) {
      fds.push_back({l.ch->fd(), l.ch->poll_events(reading(l), writing(l)), 0});
      keys.push_back(key);
    }
    auto timeout = poll_timeout();
    timespec ts{};
    if (timeout) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout).count();
      ts.tv_sec = ns / 1'000'000'000;
      ts.tv_nsec = ns % 1'000'000'000;
    }
    auto n = ::ppoll(fds.data(), fds.size(), timeout ? &ts : nullptr, nullptr);
    if (n < 0 && errno != EINTR) {
      auto reason = "poll failed: " + lan::errno_text(errno);
      while (!links_.empty())
        drop(links_.begin(), reason);
      continue;
    }
    if (n > 0 && fds[0].revents != 0) {
      uint64_t count = 0;
      [[maybe_unused]] auto r = ::read(wakeup_.get(), &count, sizeof(count));
    }
    if (n > 0 && fds[1].revents != 0)
      accept_channels();
    auto now = clock::now();
    for (size_t i = 0; i < keys.size() && live(); ++i) {
      auto it = links_.find(keys[i]);
      if (it == links_.end())
        continue;
      auto wake_at = it->second.ch->wake_at();
      auto& l = it->second;
      if (fds[2 + i].revents != 0 || (wake_at && *wake_at <= now)
          || (reading(l) && l.ch->buffered()))
        serve(it);
    }
    expire();
    run_commands();
  }
}

std::optional<clock::duration> io_loop::poll_timeout() const {
  auto now = clock::now();
  auto next = clock::time_point::max();
  auto consider = [&](clock::time_point t) { next = std::min(next, t); };
  if (accept_paused_until_ > now)
    consider(accept_paused_until_);
  for (const auto& [key, l] : links_) {
    if (reading(l) && l.ch->buffered())
      return clock::duration::zero();
    if (auto at = l.ch->wake_at(); at && writing(l))
      consider(*at);
    if (l.closing)
      consider(l.deadline);
    else if (l.inbound && !l.handshaken)
      consider(l.opened + config_.limits.handshake);
    consider(l.active + config_.limits.idle);
  }
  if (next == clock::time_point::max())
    return std::nullopt;
  // Finer than poll()'s milliseconds: an SDU's airtime is a few of them, and rounding each
  // wait up would cost a tenth of the rate.
  return std::clamp<clock::duration>(next - now, clock::duration::zero(), std::chrono::seconds{60});
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
  // BLE has no broadcast at this layer: each peer gets its own copy on its datagram channel.
  for (const auto& peer : config_.peers)
    queue_datagram(peer, cmd.bytes);
}

void io_loop::execute(datagram_command& cmd) {
  auto to = parse_address(cmd.to, "datagram destination");
  if (!to) {
    ++dropped_;
    return;
  }
  queue_datagram(*to, std::move(cmd.bytes));
}

void io_loop::queue_datagram(const device_address& to, std::vector<uint8_t> bytes) {
  // Either end's datagram channel to that peer carries datagrams both ways.
  auto it = std::find_if(links_.begin(), links_.end(), [&](const auto& entry) {
    const auto& l = entry.second;
    return l.kind == channel_kind::datagrams && l.peer == to && !l.closing;
  });
  if (it == links_.end()) {
    auto ch = adapter_->connect(to);
    if (!ch) {
      ++dropped_; // Datagrams are best effort: discovery repeats.
      return;
    }
    link l;
    l.ch = std::move(*ch);
    l.kind = channel_kind::datagrams;
    l.peer = to;
    l.in = sdu_reassembler{max_datagram};
    l.opened = l.active = clock::now();
    it = links_.emplace(next_key_++, std::move(l)).first;
  }
  auto& l = it->second;
  if (l.datagrams >= max_datagrams_queued) {
    ++dropped_;
    return;
  }
  ++l.datagrams;
  l.out.push(std::move(bytes));
}

void io_loop::execute(open_command& cmd) {
  auto address = parse_address(cmd.address, "session address");
  if (!address) {
    counters_.remove(cmd.id);
    if (live())
      events_.on_session_closed(cmd.id, describe(address.error()));
    return;
  }
  auto counters = counters_.find(cmd.id);
  if (!counters)
    return;
  auto ch = adapter_->connect(*address);
  if (!ch) {
    counters_.remove(cmd.id);
    if (live())
      events_.on_session_closed(cmd.id, describe(ch.error()));
    return;
  }
  link l;
  l.ch = std::move(*ch);
  l.kind = channel_kind::session;
  l.id = cmd.id;
  l.peer = *address;
  l.in = sdu_reassembler{max_frame};
  l.counters = std::move(counters);
  l.opened = l.active = clock::now();
  links_.emplace(cmd.id, std::move(l));
}

void io_loop::execute(frame_command& cmd) {
  auto it = links_.find(cmd.id);
  if (it == links_.end() || it->second.closing)
    return;
  if (cmd.bytes.size() > max_frame) {
    drop(it,
         fmt::format("frame of {} bytes exceeds the {}-byte limit", cmd.bytes.size(), max_frame));
    return;
  }
  it->second.out.push(std::move(cmd.bytes));
}

void io_loop::execute(abort_command& cmd) {
  auto it = links_.find(cmd.id);
  if (it != links_.end() && !it->second.closing)
    drop(it, cmd.reason);
}

void io_loop::execute(close_command& cmd) {
  auto it = links_.find(cmd.id);
  if (it == links_.end() || it->second.closing)
    return;
  auto& l = it->second;
  counters_.remove(cmd.id);
  if (live())
    events_.on_session_closed(cmd.id, "closed locally");
  if (!l.open || (l.out.empty() && !l.sdu_built)) {
    links_.erase(it);
    return;
  }
  // Frames queued before the close still reach the peer, for a while.
  l.closing = true;
  l.deadline = clock::now() + closing_grace;
}

} // namespace fwrescue::ble
