#pragma once

#include <cstdio>

namespace fwrescue::fuzz {

/// Stops the fuzzer with a crash when a property the harness checks does not hold. A trap
/// rather than an exception or assert(): libFuzzer records the input that caused it, and it
/// works in a release build with NDEBUG.
inline void check(bool ok, const char* property) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", property);
    __builtin_trap();
  }
}

} // namespace fwrescue::fuzz
