#pragma once

#include <optional>
#include <string>

#include "actors/coordinator.hpp"

// The coordinator's steps that its other files (coordinator_boot.cpp) take as well.

namespace fwrescue::coordinator_steps {

using self_ptr = caf::stateful_actor<coordinator_state>*;

/// Starts a recovery for `reason` unless one is under way or the node is in safe hold;
/// `trigger` is the check that found bad blocks, when one did.
void start_recovery(self_ptr self, const std::string& reason,
                    std::optional<flash_report> trigger = std::nullopt);

/// Sends `msg` to the actor registered under `role`, if one is.
void send_to(self_ptr self, caf::atom_value role, caf::message msg);

/// A watched boot ended: recorded in the boot history. A success raises the svn floor to the
/// installed image's; a failure (outside a recovery) asks the monitor to check the flash, and
/// after_boot_failure() decides with its report.
void boot_reported(self_ptr self, const boot_result& r);

/// Called with every check report: when a boot failure waits for it, decides what to do (and
/// returns true): a flash that does not verify is recovered; one that verifies is power-cycled
/// until the image has failed [boot] failures_to_exclude boots in a row, then the image is
/// recorded as failed on this host and a recovery asks for another one.
bool after_boot_failure(self_ptr self, const flash_report& report);

} // namespace fwrescue::coordinator_steps
