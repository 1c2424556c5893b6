// The coordinator's walk through recovery.sources: each attempt tries the sources in the
// configured order until one serves a verified image; status keeps why each earlier one did not.
#include <filesystem>

#include <fmt/format.h>

#include <sodium.h>

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

void source_failed(self_ptr self, const std::string& why, uint32_t busy_retry_ms) {
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
    return attempt_failed(self, why, busy_retry_ms);
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

void ask_more(self_ptr self, const more_donors& m) {
  auto& st = self->state;
  if (m.job != st.job || st.phase != recovery_phase::transferring)
    return;
  // The same question with a new id and nonce: offers echo them, and an accept names the
  // request its offer answered.
  image_request req = st.request;
  randombytes_buf(&req.request_id, sizeof(req.request_id));
  randombytes_buf(req.challenge.data(), req.challenge.size());
  st.more_request = req.request_id;
  st.more_job = m.job;
  send_to(self, roles::discovery, caf::make_message(std::move(req)));
}

bool more_offers(self_ptr self, offers_collected& offers) {
  auto& st = self->state;
  if (st.more_request == 0 || offers.request.request_id != st.more_request)
    return false;
  st.more_request = 0;
  auto job = st.more_job;
  if (job != st.job || st.phase != recovery_phase::transferring)
    return true;
  auto neg = find_role(self->system(), roles::negotiation, *st.ctx);
  if (!neg)
    return true;
  self->request(neg, std::chrono::seconds(10), std::move(offers))
    .then(
      [=](negotiation_result& result) {
        more_candidates more{job, std::move(result.ranked)};
        send_to(self, roles::transfer, caf::make_message(std::move(more)));
      },
      [=](caf::error&) {
        // The transfer asks again later; what it pulls from goes on meanwhile.
        send_to(self, roles::transfer, caf::make_message(more_candidates{job, {}}));
      });
  return true;
}

} // namespace fwrescue::coordinator_steps
