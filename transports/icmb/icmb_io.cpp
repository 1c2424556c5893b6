#include "transports/icmb/icmb_io.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "transports/icmb/icmb_serial.hpp"

// The ICMB loop itself, the commands of other threads, and medium access: listen before talk,
// the echo check that finds collisions, backoff, and writing paced by the echo. Frames received
// and the sessions are in icmb_io_sessions.cpp.

namespace fwrescue::icmb {

caf::expected<std::unique_ptr<io_loop>> io_loop::open(io_config config, transport_events& events,
                                                      std::atomic<session_id>& next_id,
                                                      std::atomic<uint64_t>& dropped) {
  std::unique_ptr<io_loop> loop{new io_loop(std::move(config), events, next_id, dropped)};
  auto& cfg = loop->config_;
  auto port = open_serial(cfg.who, cfg.device, cfg.baud, cfg.warn);
  if (!port)
    return std::move(port.error());
  loop->port_ = std::move(*port);
  loop->wakeup_ = unique_fd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
  if (loop->wakeup_.get() < 0)
    return make_error(errc::io_failure,
                      fmt::format("{}: cannot make an eventfd: {}", cfg.who, std::strerror(errno)));
  return loop;
}

io_loop::io_loop(io_config config, transport_events& events, std::atomic<session_id>& next_id,
                 std::atomic<uint64_t>& dropped)
  : config_(std::move(config)), events_(events), next_id_(next_id), dropped_(dropped),
    rng_(std::random_device{}()), decoder_(max_wire_payload) {
  next_datagram_id_ = static_cast<uint16_t>(rng_());
  next_conn_ = static_cast<uint8_t>(rng_());
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
  counters_.add(id);
  post(open_command{id, std::move(address)});
}

void io_loop::send_frame(session_id id, std::vector<uint8_t> frame) {
  auto c = counters_.find(id);
  if (!c)
    return;
  auto size = frame.size() + frame_prefix;
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
}

void io_loop::datagram_consumed() {
  auto n = datagram_backlog_.load();
  while (n > 0 && !datagram_backlog_.compare_exchange_weak(n, n - 1)) {
  }
}

bus_stats io_loop::stats() const {
  std::lock_guard<std::mutex> guard{stats_mutex_};
  return stats_;
}

void io_loop::request_stop() {
  stop_.store(true, std::memory_order_release);
  wake();
}

void io_loop::run() {
  last_rx_ = clock::now();
  while (live()) {
    auto now = clock::now();
    auto until = next_wakeup(now);
    // ppoll(), not poll(): the gaps are a millisecond or two, and poll() rounds to whole ones.
    auto wait =
      std::clamp<clock::duration>(until - now, clock::duration::zero(), std::chrono::seconds{1});
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    timespec timeout{static_cast<time_t>(ns / 1'000'000'000),
                     static_cast<long>(ns % 1'000'000'000)};
    pollfd fds[2] = {{wakeup_.get(), POLLIN, 0}, {port_.get(), POLLIN, 0}};
    if (tx_ && tx_->written < tx_->bytes.size()
        && tx_->written - tx_->echoed < config_.times.write_ahead)
      fds[1].events |= POLLOUT;
    auto n = ::ppoll(fds, 2, &timeout, nullptr);
    if (n < 0 && errno != EINTR)
      break;
    if (n > 0 && fds[0].revents != 0) {
      uint64_t count = 0;
      [[maybe_unused]] auto r = ::read(wakeup_.get(), &count, sizeof(count));
    }
    now = clock::now();
    read_port(now);
    run_commands();
    expire_sessions(now);
    transmit(clock::now());
  }
}

clock::time_point io_loop::next_wakeup(clock::time_point now) {
  auto at = now + std::chrono::seconds{1};
  if (tx_) {
    at = std::min(at, tx_->last_progress + config_.times.echo_timeout);
  } else if (!control_.empty() || !ack_queue_.empty()) {
    at = std::min(at, last_rx_ + config_.times.ack_gap + backoff_);
  } else if (has_data()) {
    at = std::min(at, last_rx_ + data_wait());
  }
  if (auto s = session_deadline())
    at = std::min(at, *s);
  return at;
}

std::chrono::nanoseconds io_loop::data_wait() const {
  const auto& t = config_.times;
  return t.data_gap + jitter_ + backoff_ + (last_was_ours_ ? t.defer : std::chrono::nanoseconds{});
}

bool io_loop::has_data() const {
  if (!datagrams_.empty())
    return true;
  for (const auto& entry : sessions_)
    if (entry.second.open && entry.second.tx.has_work())
      return true;
  return false;
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

void io_loop::execute(datagram_command& cmd) {
  if (datagrams_.size() >= max_datagram_queue) {
    ++dropped_;
    return;
  }
  auto id = next_datagram_id_++;
  auto per = config_.max_payload;
  auto count = std::max<size_t>(1, (cmd.bytes.size() + per - 1) / per);
  std::vector<frame> parts;
  for (size_t i = 0; i < count; ++i) {
    frame f;
    f.dst = cmd.to;
    f.src = config_.address;
    f.kind = frame_kind::datagram;
    f.seq = id;
    f.ack = static_cast<uint16_t>(i << 8 | count);
    auto from = std::min(cmd.bytes.size(), i * per);
    auto to = std::min(cmd.bytes.size(), from + per);
    f.payload.assign(cmd.bytes.begin() + static_cast<std::ptrdiff_t>(from),
                     cmd.bytes.begin() + static_cast<std::ptrdiff_t>(to));
    parts.push_back(std::move(f));
  }
  datagrams_.push_back(std::move(parts));
}

void io_loop::read_port(clock::time_point now) {
  uint8_t buf[4096];
  for (int round = 0; round < 16; ++round) {
    auto n = ::read(port_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return; // EAGAIN; EIO while the other end of a pseudo-terminal is away.
    last_rx_ = now;
    if (!tx_)
      last_was_ours_ = false;
    jitter_ = std::chrono::nanoseconds{
      static_cast<int64_t>(rng_() % static_cast<uint64_t>(config_.times.jitter.count() + 1))};
    check_echo(buf, static_cast<size_t>(n), now);
    frames_.clear();
    decoder_.feed(buf, static_cast<size_t>(n), frames_);
    for (auto& f : frames_)
      if (live())
        handle(f, now);
    {
      std::lock_guard<std::mutex> guard{stats_mutex_};
      stats_.decoder = decoder_.counters();
    }
  }
}

void io_loop::check_echo(const uint8_t* data, size_t size, clock::time_point now) {
  if (!tx_ || tx_->written == 0)
    return;
  for (size_t i = 0; i < size && tx_; ++i) {
    if (tx_->echoed >= tx_->written)
      return; // Bytes beyond what we wrote: not ours (a collision's tail).
    auto diff = static_cast<uint8_t>(data[i] ^ tx_->bytes[tx_->echoed]);
    // One flipped bit is the line's noise: every node got the same damaged byte, the frame's
    // CRC will drop it, and the other frames of the burst are still good. Two senders at once
    // garble whole bytes, and stop the frame.
    if (std::popcount(diff) > 1) {
      collided(now, false);
      return;
    }
    if (diff != 0) {
      std::lock_guard<std::mutex> guard{stats_mutex_};
      ++stats_.echo_bit_errors;
    }
    ++tx_->echoed;
    tx_->last_progress = now;
    if (tx_->echoed == tx_->bytes.size())
      finish_tx(decoder_.offset() + i + 1, now);
  }
}

void io_loop::collided(clock::time_point now, bool timeout) {
  {
    std::lock_guard<std::mutex> guard{stats_mutex_};
    ++(timeout ? stats_.echo_timeouts : stats_.collisions);
  }
  auto t = std::move(*tx_);
  tx_.reset();
  // What we wrote ahead of the echo and the UART has not sent yet would only lengthen the
  // garbage on the bus.
  if (t.written > t.echoed)
    ::tcflush(port_.get(), TCOFLUSH);
  // A payload or control frame goes out again when the bus is free; an ack is rebuilt from the
  // session then; an open is repeated by its timer; a datagram fragment goes back to the head of
  // its datagram, up to max_fragment_collisions times.
  for (auto [id, seq] : t.payloads)
    if (auto i = sessions_.find(id); i != sessions_.end())
      i->second.tx.aborted(seq);
  if (t.ack_for)
    if (auto i = sessions_.find(*t.ack_for); i != sessions_.end())
      i->second.ack_now = true;
  if (t.opening)
    if (auto i = sessions_.find(*t.opening); i != sessions_.end())
      i->second.open_due = now;
  if (t.resend)
    control_.push_front({std::move(*t.resend), std::nullopt});
  if (t.fragment) {
    if (++fragment_collisions_ > max_fragment_collisions) {
      fragment_collisions_ = 0;
      dropped_.fetch_add(1);
    } else if (t.fragment_last || datagrams_.empty()) {
      datagrams_.push_front({std::move(*t.fragment)});
    } else {
      datagrams_.front().insert(datagrams_.front().begin(), std::move(*t.fragment));
    }
  }
  collisions_in_row_ = std::min(collisions_in_row_ + 1, 6u);
  auto slots = rng_() % (uint64_t{1} << collisions_in_row_);
  backoff_ = config_.times.backoff_slot * static_cast<int64_t>(slots);
}

void io_loop::finish_tx(uint64_t end, clock::time_point now) {
  auto t = std::move(*tx_);
  tx_.reset();
  collisions_in_row_ = 0;
  backoff_ = {};
  last_was_ours_ = true;
  if (t.fragment)
    fragment_collisions_ = 0;
  {
    std::lock_guard<std::mutex> guard{stats_mutex_};
    ++stats_.frames_sent;
  }
  // Every payload of a burst is taken to end where the burst does: later than the first ones
  // really end, which only makes the loss inference wait for a later ack.
  for (auto [id, seq] : t.payloads)
    if (auto i = sessions_.find(id); i != sessions_.end()) {
      i->second.tx.transmitted(seq, end, now);
      i->second.active = now;
    }
  if (t.opening)
    if (auto i = sessions_.find(*t.opening); i != sessions_.end())
      i->second.open_due = now + config_.times.open_retry;
}

void io_loop::transmit(clock::time_point now) {
  if (tx_ && tx_->echoed < tx_->written && now - tx_->last_progress >= config_.times.echo_timeout)
    collided(now, true);
  if (!tx_ && !start_next(now))
    return;
  write_some();
}

void io_loop::queue_control(frame f, std::optional<session_id> opening) {
  if (control_.size() >= max_control_queue)
    return; // Answers are repeated by their peers' timers; dropping one costs a round trip.
  control_.push_back({std::move(f), opening});
}

bool io_loop::start_next(clock::time_point now) {
  auto idle = now - last_rx_;
  if (idle < config_.times.ack_gap + backoff_)
    return false;
  transmission t;
  t.control = true;
  t.last_progress = now;
  if (!ack_queue_.empty()) {
    auto id = ack_queue_.front();
    ack_queue_.pop_front();
    auto i = sessions_.find(id);
    if (i == sessions_.end())
      return start_next(now);
    i->second.ack_queued = false;
    t.ack_for = id;
    t.bytes = encode(make_ack(i->second));
  } else if (!control_.empty()) {
    auto& entry = control_.front();
    t.opening = entry.opening;
    t.bytes = encode(entry.f);
    if (!t.opening)
      t.resend = std::move(entry.f);
    control_.pop_front();
  } else {
    if (idle < data_wait())
      return false;
    t.control = false;
    if (auto out = next_data_frame(now)) {
      // A burst of frames back to back pays one gap; each keeps its own CRC, so a bit error
      // costs one frame, not the burst.
      for (size_t n = 0; out; out = ++n < max_burst ? next_data_frame(now) : std::nullopt) {
        t.payloads.emplace_back(out->id, out->seq);
        encode(out->f, t.bytes);
      }
    } else if (!datagrams_.empty()) {
      auto& parts = datagrams_.front();
      t.bytes = encode(parts.front());
      t.fragment = std::move(parts.front());
      parts.erase(parts.begin());
      t.fragment_last = parts.empty();
      if (parts.empty())
        datagrams_.pop_front();
    } else {
      return false;
    }
  }
  tx_ = std::move(t);
  return true;
}

void io_loop::write_some() {
  auto& t = *tx_;
  while (t.written < t.bytes.size() && t.written - t.echoed < config_.times.write_ahead) {
    auto n =
      std::min(t.bytes.size() - t.written, config_.times.write_ahead - (t.written - t.echoed));
    auto w = ::write(port_.get(), t.bytes.data() + t.written, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; // Full: poll() says when it takes more; a dead port shows as an echo timeout.
    if (t.written == 0)
      t.last_progress = clock::now();
    t.written += static_cast<size_t>(w);
    std::lock_guard<std::mutex> guard{stats_mutex_};
    stats_.bytes_written += static_cast<uint64_t>(w);
  }
}

} // namespace fwrescue::icmb
