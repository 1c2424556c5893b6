#pragma once

#include <cstdint>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace fwrescue {

enum class power_state : uint8_t { off = 0, on = 1, reset_held = 2 };

const char* to_string(power_state s);

/// The host's power and reset lines. Implementations: hal/host_power/sim.
class host_power {
public:
  virtual ~host_power() = default;

  virtual caf::expected<power_state> state() = 0;
  virtual caf::error power_on() = 0;
  virtual caf::error power_off() = 0;
  /// Holds the running host in reset (its flash is then not read).
  virtual caf::error hold_reset() = 0;
  virtual caf::error release_reset() = 0;
};

} // namespace fwrescue
