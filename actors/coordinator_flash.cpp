// The coordinator's flash steps: a staged image written, a failed write tried again from it,
// the written flash's final check taken as the recovery's verification, and a recovery the
// journal says was interrupted picked up where it stood.
#include <ctime>

#include <fmt/format.h>

#include "actors/coordinator_steps.hpp"
#include "actors/fetch.hpp"
#include "common/error.hpp"

namespace fwrescue::coordinator_steps {

uint64_t elapsed_ms(const coordinator_state& st) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - st.started)
                                 .count());
}

void start_flash(self_ptr self, flash_job job) {
  auto& st = self->state;
  enter(self, recovery_phase::flashing);
  extend_deadline(self);
  st.donor = job.donor;
  ++st.flashes;
  ++st.job;
  job.job = st.job;
  send_to(self, roles::monitor, caf::make_message(pause_atom::value));
  send_to(self, roles::donor, caf::make_message(own_image_state{false, self->state.ctx}));
  dispatch(self, roles::flasher, caf::make_message(std::move(job)));
}

/// Flashes again from what the journal records: the staged image, checked block by block by the
/// flasher before anything is erased.
void flash_from_journal(self_ptr self, const std::string& why) {
  auto& st = self->state;
  auto journal = st.ctx->store->journal();
  if (!journal || !*journal || (*journal)->at == recovery_journal::phase::transferring)
    return attempt_failed(self, why + "; no staged image to flash again");
  const auto& j = **journal;
  start_flash(self, flash_job{j.target, j.donor});
}

/// A flash failed (or its actor died). The staged image was verified, so a flash that failed
/// while writing is tried again from it, recovery.flash_retries times, before the network is
/// asked again; one that failed before writing found the staged image itself in question.
void flash_failed_with(self_ptr self, const std::string& reason, bool untouched) {
  auto& st = self->state;
  job_over(self);
  ++st.job;
  send_to(self, roles::monitor, caf::make_message(resume_atom::value));
  auto retries = st.ctx->config.recovery.flash_retries;
  if (untouched || st.flashes > retries || st.safe_hold)
    return attempt_failed(self, reason);
  st.ctx->log->warn("coordinator",
                    "flash {} of {} failed: {}; flashing again from the staged "
                    "image",
                    st.flashes, retries + 1, reason);
  enter(self, recovery_phase::staged); // the staged image waits for the next flash
  auto wait = std::chrono::milliseconds(st.ctx->config.recovery.backoff_initial_ms);
  self->delayed_send(self, wait, reflash_atom::value, st.generation, reason);
}

void verified(self_ptr self, const flash_report& report) {
  auto& st = self->state;
  if (!report.ok())
    return flash_failed_with(self, "flash does not verify after writing: " + report.detail, false);
  send_to(self, roles::monitor, caf::make_message(resume_atom::value));
  auto ms = elapsed_ms(st);
  auto installed = st.ctx->store->installed_manifest();
  std::string version = installed && *installed ? (*installed)->fields.version : "";
  std::string source;
  for (const auto& t : st.sources_tried)
    if (t.served)
      source = t.source;
  st.last = recovery_outcome{true,    st.recoveries, st.donor,         source,
                             version, ms,            report.detail, std::time(nullptr)};
  st.ctx->metrics->recovery_ended(st.ctx->target, true, source, ms);
  enter(self, recovery_phase::done);
  send_to(self, roles::donor, caf::make_message(own_image_state{true, self->state.ctx}));
  st.ctx->log->info("coordinator", "recovered {} from {} in {} ms", st.ctx->config.id, st.donor,
                    ms);
  if (st.ctx->config.local.keep_golden && installed && *installed)
    send_to(self, roles::fetch, caf::make_message(keep_golden{**installed}));
}

/// At start: a journal means a recovery was interrupted; pick it up where it stood.
void resume_from_journal(self_ptr self) {
  auto& st = self->state;
  auto journal = st.ctx->store->journal();
  if (!journal) {
    st.ctx->log->error("coordinator", "cannot read the journal: {}", describe(journal.error()));
    return;
  }
  if (!*journal) {
    // The host record is forgotten before the journal is cleared, so one without a journal was
    // left by hand or by an earlier version: nothing is under way to restore it.
    if (auto record = st.ctx->store->host_before(); record && *record) {
      st.ctx->log->warn("coordinator", "a host power record ({}) without a journal: forgotten",
                        to_string(**record));
      st.ctx->store->forget_host_before();
    }
    return;
  }
  const auto& j = **journal;
  st.ctx->log->warn("coordinator",
                    "journal: a recovery from {} was interrupted while {}; "
                    "resuming",
                    j.donor, to_string(j.at));
  st.reason = "resuming an interrupted recovery";
  st.trigger.reset();
  st.only_from.reset(); // a resumed transfer walks recovery.sources
  ++st.recoveries;
  st.attempt = 1;
  st.flashes = 0;
  ++st.generation;
  st.started = std::chrono::steady_clock::now();
  st.donor = j.donor;
  if (j.at == recovery_journal::phase::transferring)
    return first_source(self);
  // Staged or flashing: the staged image is complete; the flasher checks it before writing.
  start_flash(self, flash_job{j.target, j.donor});
}

} // namespace fwrescue::coordinator_steps
