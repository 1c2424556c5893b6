// The coordinator's walk through recovery.sources: each attempt tries the sources in the
// configured order until one serves a verified image; status keeps why each earlier one did not.
#include <filesystem>

#include <fmt/format.h>

#include "actors/coordinator_steps.hpp"
#include "common/error.hpp"

namespace fwrescue::coordinator_steps {

namespace {

/// The name status gives the location of a recover_from_location request.
const std::string requested_source = "requested";

const std::string& current_source(const coordinator_state& st) {
  if (st.only_from)
    return requested_source;
  return st.ctx->config.recovery.sources.at(st.source);
}

/// Asks the fetch actor for an image from location `name`.
void fetch_from(self_ptr self, const std::string& name) {
  auto& st = self->state;
  enter(self, recovery_phase::transferring);
  extend_deadline(self);
  st.donor = name;
  // As for a transfer: only the first attempt trusts the check that started the recovery.
  auto known = st.attempt == 1 && st.trigger ? *st.trigger : flash_report{};
  ++st.job;
  fetch_job job{st.job, name, st.only_from, std::move(known)};
  st.fetch_cancel = job.cancelled;
  dispatch(self, roles::fetch, caf::make_message(std::move(job)));
}

void try_source(self_ptr self) {
  auto& st = self->state;
  const auto& name = current_source(st);
  if (name == "peers" && !st.only_from)
    return discover(self);
  fetch_from(self, name);
}

} // namespace

void first_source(self_ptr self) {
  auto& st = self->state;
  st.source = 0;
  st.sources_tried.clear();
  try_source(self);
}

void source_failed(self_ptr self, const std::string& why) {
  auto& st = self->state;
  const auto& sources = st.ctx->config.recovery.sources;
  cancel_fetch(self);
  job_over(self);
  ++st.job; // a late report of this source's job no longer counts
  st.sources_tried.push_back({current_source(st), why, false});
  if (st.only_from)
    return attempt_failed(self, why);
  if (st.source + 1 < sources.size()) {
    st.ctx->log->warn("coordinator", "source {} has no image for us: {}; trying {}",
                      current_source(st), why, sources[st.source + 1]);
    ++st.source;
    return try_source(self);
  }
  if (sources.size() == 1)
    return attempt_failed(self, why);
  std::string all;
  for (const auto& t : st.sources_tried)
    all += fmt::format("{}{}: {}", all.empty() ? "" : "; ", t.source, t.result);
  attempt_failed(self, "no source had an image: " + all);
}

void source_served(self_ptr self, const std::string& where) {
  auto& st = self->state;
  st.sources_tried.push_back({current_source(st), "served " + where, true});
}

void cancel_fetch(self_ptr self) {
  auto& st = self->state;
  if (st.fetch_cancel)
    st.fetch_cancel->store(true);
  st.fetch_cancel.reset();
}

void fetched(self_ptr self, fetch_done& d) {
  auto& st = self->state;
  std::error_code ec;
  if (d.done.job == 0 || d.done.job != st.job) {
    std::filesystem::remove(d.staging_path, ec);
    return;
  }
  st.fetch_cancel.reset();
  // The image moves to where the flasher, and a restart's journal, expect the staged image.
  std::filesystem::rename(d.staging_path, st.ctx->store->staging_path(), ec);
  if (ec)
    return source_failed(self, fmt::format("cannot move the staged image into place: {}",
                                           ec.message()));
  if (auto err = st.ctx->store->write_journal(
        {recovery_journal::phase::staged, d.done.target, d.done.donor}))
    st.ctx->log->error("coordinator", "cannot record the staged image: {}", describe(err));
  // From here on it is a staged image like one a transfer made.
  image_staged(self, d.done);
}

recovery_started recover_from(self_ptr self, recover_from_location& r) {
  auto& st = self->state;
  if (st.safe_hold)
    return {false, 0, "refused: the node is in safe hold"};
  if (recovering(st.phase))
    return {false, st.recoveries,
            fmt::format("recovery {} is in progress ({})", st.recoveries, to_string(st.phase))};
  if (!r.location)
    return {false, 0, "no image location given"};
  start_recovery(self, r.reason, std::nullopt, std::move(r.location));
  return {true, st.recoveries, fmt::format("recovery {} started", st.recoveries)};
}

void media_changed(self_ptr self) {
  auto& st = self->state;
  if (st.safe_hold)
    return;
  bool waiting = st.phase == recovery_phase::discovering && st.job == 0;
  if (waiting) {
    st.ctx->log->info("coordinator", "removable media changed: trying again now");
    ++st.attempt;
    return first_source(self);
  }
  if (st.phase == recovery_phase::failed && st.last_check.needs_recovery())
    start_recovery(self, "removable media changed after a failed recovery",
                   st.last_check);
}

} // namespace fwrescue::coordinator_steps
