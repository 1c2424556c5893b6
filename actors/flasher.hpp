#pragma once

#include <functional>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "actors/staging_file.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

struct flasher_state {
  context_ptr ctx;
  /// Set by the supervisor's safe hold: no flash writes at all.
  bool hold = false;
  static inline const char* name = "flasher";
};

/// Rewrites the flash from the staging file (a flash_job) and replies flash_done or
/// flash_failed; sends flash_progress to the coordinator along the way.
caf::behavior flasher(caf::stateful_actor<flasher_state>* self, context_ptr ctx);

/// The flashing procedure itself, for tests:
///  1. journal "flashing";
///  2. find the sectors that must change (blocks come from the staging file where the job says
///     they were staged, else stay as the flash holds them) and check every block they will hold
///     against the signed manifest's digests, keeping that checked content to write (nothing
///     unverified, and nothing read after the check, is written);
///  3. when any sector differs: record the host's power state (once per recovery, in nv_store's
///     host record) and power the host off or hold it in reset (or leave it running, as
///     host_power.during_flash says); when none differs, touch neither the host nor the chip;
///  4. per run of those sectors: erase and program; the other sectors are not touched;
///  5. read the whole image back once and compare its tree with the root (write_check: blocks
///     of a run are hashed from their checked content while the next runs are written, and
///     compared with what is read back); a written sector that reads back different gets a
///     second write, read back at once, and then the whole image is read and compared again;
///  6. record the installed manifest, raise the svn floor;
///  7. restore the host's recorded power state and forget the record, then clear the journal.
/// The flash is never erased before step 2 succeeds, and a failure leaves the journal in place
/// so a restarted daemon tries again. flash_done carries step 5's report: the recovery's final
/// whole-image check.
/// `touched`, when given, is set once the host or the chip is about to be touched (step 3): a
/// failure before that leaves both as they were.
caf::expected<flash_done> flash_image(const node_context& ctx, const flash_job& job,
                                      staging_file& staging,
                                      const std::function<void(const flash_progress&)>& progress,
                                      bool* touched = nullptr);

} // namespace fwrescue
