#pragma once

#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "hal/host_power.hpp"

namespace fwrescue {

/// A simulated host whose power state lives in memory and, when a state file is given, in that
/// file as one word ("off", "on", "reset_held") replaced atomically on every change, so a test or
/// a restarted daemon sees what the last one left.
///
/// Transitions (anything else is an `errc::invalid_argument` error that changes nothing):
///
/// | call          | from off | from on    | from reset_held |
/// |---------------|----------|------------|-----------------|
/// | power_on      | on       | (stays on) | error           |
/// | power_off     | off      | off        | off             |
/// | hold_reset    | error    | reset_held | (stays)         |
/// | release_reset | error    | (stays on) | on              |
/// | reset         | error    | (stays on) | error           |
class sim_host_power : public host_power {
public:
  /// Reads `state_file` when it exists, otherwise starts in `initial` and records it there.
  /// An empty `state_file` keeps the state in memory only. A state file that cannot be read or
  /// written makes every call fail with that error; use `open` to see it at startup.
  explicit sim_host_power(std::string state_file = {}, power_state initial = power_state::on);

  /// Like the constructor, but fails right away when the state file is unusable.
  static caf::expected<std::unique_ptr<sim_host_power>> open(std::string state_file,
                                                             power_state initial);

  caf::expected<power_state> state() override;
  caf::error power_on() override;
  caf::error power_off() override;
  caf::error hold_reset() override;
  caf::error release_reset() override;
  caf::error reset() override;

private:
  /// Loads the state file, or creates it with `initial` when it is missing.
  caf::error load(power_state initial);

  /// Records `next` in the state file (when there is one), then in memory.
  caf::error change_to(power_state next);

  /// Replaces the state file's content with `s`; nothing without a state file.
  caf::error persist(power_state s) const;

  /// The error for a call the current state does not allow.
  caf::error refuse(const char* call, const char* why) const;

  std::string state_file_;
  power_state state_;
  /// Set when the state file could not be loaded; every call returns it.
  caf::error broken_;
};

} // namespace fwrescue
