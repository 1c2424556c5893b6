// fwrescue-icmb-bus: an emulated ICMB (half-duplex, multi-drop RS-485) made of pseudo-terminals,
// for tests and demos of the ICMB transport. docs/icmb-bus.md says what it models.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <vector>

#include <sched.h>

#include <fmt/format.h>

#include "tools/icmb-bus/bus_loop.hpp"
#include "tools/icmb-bus/options.hpp"
#include "tools/icmb-bus/pty_link.hpp"

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_stop_signal(int) {
  stop_requested = 1;
}

// Blocks SIGTERM and SIGINT and returns the mask that lets them in again: the bus loop waits
// with it, so a stop is seen at once and never between the check and the wait.
sigset_t catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // A reader of our stdout going away must not kill us before we remove the symlinks.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t stops, old;
  sigemptyset(&stops);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGINT);
  sigprocmask(SIG_BLOCK, &stops, &old);
  sigdelset(&old, SIGTERM);
  sigdelset(&old, SIGINT);
  return old;
}

// A wire is not scheduled: bytes keep flowing while the CPU is busy. Run at a real-time
// priority where the system lets us, or a loaded machine stalls the emulated bus for tens of
// milliseconds, every node hears a silence that a real bus never has, and they all talk at once.
// The loop sleeps between 500 us ticks, so it takes a few percent of one core at most.
void take_realtime_priority() {
  sched_param param{};
  param.sched_priority = 10;
  if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param) != 0)
    fmt::print(stderr,
               "fwrescue-icmb-bus: running at normal priority, so a loaded machine may delay "
               "the bus (real-time priority: {})\n",
               std::strerror(errno));
}

} // namespace

int main(int argc, char** argv) {
  auto opts = icmb_bus::parse_options(argc, argv);
  if (!opts) {
    fmt::print(stderr, "fwrescue-icmb-bus: {} ({})\n", opts.error, icmb_bus::usage);
    return 2;
  }
  auto wait_mask = catch_stop_signals();
  take_realtime_priority();
  // Destroyed on every way out, each removing its symlink.
  std::vector<icmb_bus::pty_link> links;
  links.reserve(opts.value->links.size());
  for (const auto& path : opts.value->links) {
    auto link = icmb_bus::pty_link::open(path);
    if (!link) {
      fmt::print(stderr, "fwrescue-icmb-bus: {}\n", link.error);
      return 1;
    }
    links.push_back(std::move(*link.value));
  }
  fmt::print("ready\n");
  std::fflush(stdout);
  auto counters = icmb_bus::run_bus(*opts.value, links, stop_requested, wait_mask);
  if (!counters) {
    fmt::print(stderr, "fwrescue-icmb-bus: {}\n", counters.error);
    return 1;
  }
  auto line = icmb_bus::render(*counters.value);
  fmt::print("{}\n", line);
  std::fflush(stdout);
  if (!opts.value->stats_path.empty())
    if (auto w = icmb_bus::write_stats(opts.value->stats_path, line); !w) {
      fmt::print(stderr, "fwrescue-icmb-bus: {}\n", w.error);
      return 1;
    }
  return 0;
}
