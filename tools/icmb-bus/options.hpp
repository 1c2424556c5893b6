#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/icmb-bus/outcome.hpp"

namespace icmb_bus {

/// The fewest and most nodes one bus carries (an ICMB has at most 64 chassis).
constexpr size_t min_links = 2;
constexpr size_t max_links = 64;
/// The fastest bus we emulate: above this the slot clock would need a finer tick than ours.
constexpr uint32_t max_baud = 10'000'000;

/// The command line, parsed and checked.
struct bus_options {
  /// Bits per second on the bus; a byte slot lasts 10 bits (start, 8 data, stop).
  uint32_t baud = 0;
  /// Probability that each bit of a delivered byte flips, in [0, 1].
  double bit_error_rate = 0.0;
  /// Seeds the bit-flip and garbling generators, so a run is repeatable.
  uint64_t seed = 1;
  /// Where the counters line is rewritten while running; empty for none.
  std::string stats_path;
  /// One pseudo-terminal per path, made a symlink to its slave device.
  std::vector<std::string> links;
};

/// Parses `argv[1..argc)`; the error names the option and what was wrong with it.
outcome<bus_options> parse_options(int argc, const char* const* argv);

/// The usage line printed with an argument error.
extern const char* const usage;

} // namespace icmb_bus
