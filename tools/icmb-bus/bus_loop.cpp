#include "tools/icmb-bus/bus_loop.hpp"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <poll.h>
#include <unistd.h>

#include <fmt/format.h>

namespace icmb_bus {

namespace {

using namespace std::chrono_literals;

// Short enough that a slot at the fastest baud we take is late by a few slots at most, and
// nodes see a steady stream rather than bursts.
constexpr auto tick = 500us;
constexpr auto stats_interval = 1s;

timespec to_timespec(std::chrono::nanoseconds d) {
  if (d < 0ns)
    d = 0ns;
  return timespec{static_cast<time_t>(d.count() / 1'000'000'000),
                  static_cast<long>(d.count() % 1'000'000'000)};
}

// A node that does not read loses what does not fit in its pty; the bus never waits for it.
void flush_rx(std::vector<pty_link>& links, bus& b) {
  for (size_t i = 0; i < links.size(); ++i) {
    auto& rx = b.rx(i);
    if (rx.empty())
      continue;
    auto n = ::write(links[i].master(), rx.data(), rx.size());
    size_t written = n > 0 ? static_cast<size_t>(n) : 0;
    b.count_dropped(rx.size() - written);
    rx.clear();
  }
}

void read_tx(std::vector<pty_link>& links, const std::vector<pollfd>& fds, bus& b,
             const slot_clock& clk) {
  std::array<uint8_t, bus::tx_limit> buf;
  for (size_t i = 0; i < links.size(); ++i) {
    if (!(fds[i].revents & POLLIN))
      continue;
    auto room = std::min(buf.size(), b.tx_room(i));
    // EAGAIN, EINTR and EIO (no slave open) all mean there is nothing to read now.
    auto n = ::read(links[i].master(), buf.data(), room);
    if (n > 0)
      b.queue(i, std::span(buf.data(), static_cast<size_t>(n)),
              clk.first_from(slot_clock::clock::now()));
  }
}

} // namespace

double slot_clock::slots_at(clock::time_point t) const {
  std::chrono::duration<double> elapsed = t - start_;
  return elapsed.count() * baud_ / 10.0;
}

uint64_t slot_clock::ended_by(clock::time_point t) const {
  return static_cast<uint64_t>(std::floor(std::max(0.0, slots_at(t))));
}

uint64_t slot_clock::first_from(clock::time_point t) const {
  return static_cast<uint64_t>(std::ceil(std::max(0.0, slots_at(t))));
}

outcome<bool> write_stats(const std::string& path, const std::string& line) {
  auto temp = path + ".tmp";
  std::FILE* f = std::fopen(temp.c_str(), "w");
  if (f == nullptr)
    return outcome<bool>::fail(fmt::format("--stats {}: {}", path, std::strerror(errno)));
  bool ok = std::fputs((line + "\n").c_str(), f) >= 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0)
    return outcome<bool>::fail(fmt::format("--stats {}: {}", path, std::strerror(errno)));
  return outcome<bool>::ok(true);
}

outcome<bus_counters> run_bus(const bus_options& opts, std::vector<pty_link>& links,
                              const volatile std::sig_atomic_t& stop, const sigset_t& wait_mask) {
  using result = outcome<bus_counters>;
  using clock = slot_clock::clock;
  bus b(links.size(), opts.bit_error_rate, opts.seed);
  slot_clock clk(opts.baud);
  uint64_t done = 0;
  std::vector<pollfd> fds(links.size());
  bus_counters stats_written;
  auto next_stats = clock::now() + stats_interval;
  if (!opts.stats_path.empty())
    if (auto w = write_stats(opts.stats_path, render(stats_written)); !w)
      return result::fail(w.error);
  while (!stop) {
    for (size_t i = 0; i < links.size(); ++i)
      fds[i] = pollfd{links[i].master(), static_cast<short>(b.tx_room(i) > 0 ? POLLIN : 0), 0};
    bool stats_due = !opts.stats_path.empty() && render(stats_written) != render(b.counters());
    // An idle bus sleeps until a node writes (or the stats are due): no work, no CPU.
    timespec wait{};
    const timespec* timeout = nullptr;
    if (!b.idle())
      timeout = &(wait = to_timespec(tick));
    else if (stats_due)
      timeout = &(wait = to_timespec(next_stats - clock::now()));
    if (::ppoll(fds.data(), fds.size(), timeout, &wait_mask) < 0) {
      if (errno != EINTR)
        return result::fail(fmt::format("waiting for the ptys: {}", std::strerror(errno)));
      for (auto& p : fds)
        p.revents = 0;
    }
    if (stop)
      break;
    auto now = clock::now();
    // Catch up every slot that has ended; slots in which nobody may send need no work.
    for (auto due = clk.ended_by(now); done < due && !b.idle(); ++done)
      b.run_slot(done);
    done = std::max(done, clk.ended_by(now));
    flush_rx(links, b);
    read_tx(links, fds, b, clk);
    if (stats_due && now >= next_stats) {
      if (auto w = write_stats(opts.stats_path, render(b.counters())); !w)
        return result::fail(w.error);
      stats_written = b.counters();
      next_stats = now + stats_interval;
    }
  }
  return result::ok(b.counters());
}

} // namespace icmb_bus
