#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/icmb-bus/bus.hpp"
#include "tools/icmb-bus/options.hpp"
#include "tools/icmb-bus/pty_link.hpp"

namespace icmb_bus {

/// Wall-clock time cut into byte slots of 10 bits / baud, counted from construction.
class slot_clock {
public:
  using clock = std::chrono::steady_clock;

  explicit slot_clock(uint32_t baud) : baud_(baud), start_(clock::now()) {
  }
  /// Slots that have ended by `t`.
  uint64_t ended_by(clock::time_point t) const;
  /// The first slot that starts at or after `t`.
  uint64_t first_from(clock::time_point t) const;

private:
  double slots_at(clock::time_point t) const;

  uint32_t baud_;
  clock::time_point start_;
};

/// Moves bytes between the ptys and the bus, paced by the slot clock, until `stop` is set by a
/// signal. Those signals must be blocked by the caller; they are let in only while waiting
/// (with `wait_mask`), so none can slip between the check and the wait. Returns the final
/// counters, or the line that says why the bus could not go on.
outcome<bus_counters> run_bus(const bus_options& opts, std::vector<pty_link>& links,
                              const volatile std::sig_atomic_t& stop, const sigset_t& wait_mask);

/// Replaces `path` with `line` and a newline, so a reader sees the old line or the new one.
outcome<bool> write_stats(const std::string& path, const std::string& line);

} // namespace icmb_bus
