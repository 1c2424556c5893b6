#pragma once

#include <optional>
#include <string>

#include "actors/coordinator.hpp"
#include "actors/fetch.hpp"
#include "actors/transfer.hpp"

// The coordinator's steps that its other files (coordinator_boot.cpp) take as well.

namespace fwrescue::coordinator_steps {

using self_ptr = caf::stateful_actor<coordinator_state>*;

/// Starts a recovery for `reason` unless one is under way or the node is in safe hold;
/// `trigger` is the check that found bad blocks, when one did.
/// With `only_from`, the recovery takes the image from that location alone, in one attempt.
void start_recovery(self_ptr self, const std::string& reason,
                    std::optional<flash_report> trigger = std::nullopt,
                    std::shared_ptr<image_location> only_from = nullptr);

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

/// Hands a job to the actor in `role` and watches that actor: should it die before it reports,
/// the job fails. Returns the job's number, or 0 when nobody holds the role.
uint64_t dispatch(self_ptr self, caf::atom_value role, caf::message msg);

/// Moves to phase `next` (logging it) and starts its deadline.
void enter(self_ptr self, recovery_phase next);

/// Moves the phase's deadline to recovery.stall_timeout_s from now (or `timeout`).
void extend_deadline(self_ptr self, std::chrono::milliseconds timeout = {});

/// The job done (or failed): nobody is watched any more.
void job_over(self_ptr self);

/// Asks the peers on every link for an image (the "peers" source).
void discover(self_ptr self);

/// The transfer pulls from fewer donors than it may: asks the peers again, with a request of
/// its own, and hands the candidates the policy ranks to the transfer (coordinator_sources.cpp).
void ask_more(self_ptr self, const more_donors& m);
/// Offers answering that request: returns false when `offers` answer another one.
bool more_offers(self_ptr self, offers_collected& offers);

// -- flashing (coordinator_flash.cpp) ------------------------------------------------------------

/// Milliseconds since the recovery started.
uint64_t elapsed_ms(const coordinator_state& st);

/// Writes the staged image: pauses the monitor, withdraws the own flash from the donor, and
/// hands the job to the flasher.
void start_flash(self_ptr self, flash_job job);

/// Flashes again from what the journal records (the staged image).
void flash_from_journal(self_ptr self, const std::string& why);

/// A flash failed (or its actor died): tried again from the staged image, or the attempt fails.
void flash_failed_with(self_ptr self, const std::string& reason, bool untouched);

/// The flasher's final check: the recovery is done, or the flash failed.
void verified(self_ptr self, const flash_report& report);

/// At start: a journal means a recovery was interrupted; it is picked up where it stood.
void resume_from_journal(self_ptr self);

/// The image is staged and verified (by a transfer or a fetch): it is flashed.
void image_staged(self_ptr self, transfer_done& d);

/// A whole attempt failed: retried from the first source after a backoff, or the recovery
/// ends as failed. `busy_retry_ms`: every donor answered busy, asking for that wait, which is
/// waited out (recovery.busy_wait_s) before it counts.
void attempt_failed(self_ptr self, const std::string& why, uint32_t busy_retry_ms = 0);

// -- sources (coordinator_sources.cpp) -----------------------------------------------------------

/// Starts an attempt at the first of recovery.sources.
void first_source(self_ptr self);

/// The current source has no image for us (`why`): the next one is tried, and when none is
/// left the attempt fails with every source's reason.
void source_failed(self_ptr self, const std::string& why, uint32_t busy_retry_ms = 0);

/// The source in use served the image: recorded for status.
void source_served(self_ptr self, const std::string& where);

/// Gives up a location fetch in flight, if one is.
void cancel_fetch(self_ptr self);

/// A location fetch reported.
void fetched(self_ptr self, fetch_done& d);

/// An operator asked for a recovery (or update) from one named image: started unless the node
/// is in safe hold or a recovery is under way; the answer names its number.
recovery_started recover_from(self_ptr self, recover_from_location& r);

/// Removable media may have come: a recovery waiting for its next attempt (or one that gave
/// up) looks at once.
void media_changed(self_ptr self);

} // namespace fwrescue::coordinator_steps
