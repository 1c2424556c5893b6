#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace fwrescue {

enum class power_state : uint8_t { off = 0, on = 1, reset_held = 2 };

/// "off", "on" or "reset_held".
const char* to_string(power_state s);

/// The state named by `word` (as to_string writes it), or nothing.
std::optional<power_state> parse_power_state(std::string_view word);

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
  /// Restarts a running host at once (a reset pulse): it runs again and reads its flash anew.
  /// Refused while the host is off or held in reset.
  virtual caf::error reset() = 0;

  /// A file the host's serial console output is appended to, when the backend captures it;
  /// empty when it does not. Boot watching (docs/host.md) reads it.
  virtual std::string console_log() const {
    return {};
  }
};

} // namespace fwrescue
