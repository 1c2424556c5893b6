#include "actors/coordinator.hpp"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include "actors/transfer.hpp"
#include "common/error.hpp"
#include "common/hex.hpp"

namespace fwrescue {

namespace {

using self_ptr = caf::stateful_actor<coordinator_state>*;

void send_to(self_ptr self, caf::atom_value role, caf::message msg) {
  if (auto dest = find_role(self->system(), role))
    self->send(dest, std::move(msg));
  else
    self->state.ctx->log->error("coordinator", "no {} actor to send to", caf::to_string(role));
}

void enter(self_ptr self, recovery_phase next) {
  auto& st = self->state;
  if (st.phase == next)
    return;
  st.ctx->log->info("coordinator", "state {} -> {}", to_string(st.phase), to_string(next));
  st.phase = next;
  st.progress_done = st.progress_total = 0;
}

uint64_t elapsed_ms(const coordinator_state& st) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - st.started)
                                 .count());
}

bool recovering(recovery_phase p) {
  return p != recovery_phase::idle && p != recovery_phase::done && p != recovery_phase::failed;
}

// -- one function per state ----------------------------------------------------------------------

void discover(self_ptr self) {
  auto& st = self->state;
  enter(self, recovery_phase::discovering);
  image_request req;
  randombytes_buf(&req.request_id, sizeof(req.request_id));
  randombytes_buf(req.challenge.data(), req.challenge.size());
  req.requester = st.ctx->config.id;
  req.platform = st.ctx->config.platform;
  auto stored = st.ctx->store->svn_floor();
  req.min_svn = std::max(st.ctx->config.svn_floor, stored ? *stored : 0u);
  st.request = req;
  send_to(self, roles::discovery, caf::make_message(req));
}

void attempt_failed(self_ptr self, const std::string& why) {
  auto& st = self->state;
  auto& rc = st.ctx->config.recovery;
  st.ctx->log->warn("coordinator", "attempt {} of {} failed: {}", st.attempt, rc.max_attempts, why);
  if (st.attempt < rc.max_attempts && !st.safe_hold) {
    // The shift is capped: a 32-bit initial value shifted by 32 already exceeds any maximum,
    // and a shift by 64 or more (max_attempts may be large) is undefined.
    auto backoff = std::min<uint64_t>(
      uint64_t{rc.backoff_initial_ms} << std::min<uint32_t>(st.attempt - 1, 32), rc.backoff_max_ms);
    st.ctx->log->info("coordinator", "retrying in {} ms", backoff);
    enter(self, recovery_phase::discovering); // still recovering while the timer runs
    self->delayed_send(self, std::chrono::milliseconds(backoff), retry_atom::value, st.generation);
    return;
  }
  enter(self, recovery_phase::failed);
  send_to(self, roles::transfer, caf::make_message(ready_memory{})); // releases it, if unused
  st.failure = why;
  st.last = recovery_outcome{false, st.donor, "", elapsed_ms(st), why, std::time(nullptr)};
  st.ctx->log->error("coordinator", "recovery failed after {} attempt(s): {}", st.attempt, why);
}

void start_recovery(self_ptr self, const std::string& reason,
                    std::optional<flash_report> trigger = std::nullopt) {
  auto& st = self->state;
  if (st.safe_hold) {
    st.ctx->log->error("coordinator", "recovery refused ({}): node is in safe hold", reason);
    return;
  }
  if (recovering(st.phase))
    return;
  st.ctx->log->info("coordinator", "recovery needed: {}", reason);
  st.reason = reason;
  st.trigger = std::move(trigger);
  st.attempt = 1;
  ++st.generation;
  st.started = std::chrono::steady_clock::now();
  st.failure.clear();
  st.donor.clear();
  discover(self);
  // While offers are awaited, the transfer readies memory for the blocks found bad.
  if (st.trigger)
    send_to(self, roles::transfer, caf::make_message(ready_memory{*st.trigger}));
}

void negotiated(self_ptr self, negotiation_result& result) {
  auto& st = self->state;
  st.last_negotiation = result;
  if (result.ranked.empty()) {
    auto why =
      result.verdicts.empty()
        ? std::string{"no compatible image: no donor answered"}
        : fmt::format("no compatible image: none of {} offer(s) qualified", result.verdicts.size());
    return attempt_failed(self, why);
  }
  // Only the first attempt trusts the check that started the recovery: a later one may follow a
  // flash that failed half way, and looks at the flash afresh.
  auto known = st.attempt == 1 && st.trigger ? *st.trigger : flash_report{};
  send_to(self, roles::transfer,
          caf::make_message(transfer_job{st.request, std::move(result.ranked), std::move(known)}));
}

void start_flash(self_ptr self, flash_job job) {
  auto& st = self->state;
  enter(self, recovery_phase::flashing);
  st.donor = job.donor;
  send_to(self, roles::monitor, caf::make_message(pause_atom::value));
  send_to(self, roles::donor, caf::make_message(own_image_state{false}));
  send_to(self, roles::flasher, caf::make_message(std::move(job)));
}

void verified(self_ptr self, const flash_report& report) {
  auto& st = self->state;
  if (!report.ok())
    return attempt_failed(self, "flash does not verify after writing: " + report.detail);
  auto ms = elapsed_ms(st);
  auto installed = st.ctx->store->installed_manifest();
  std::string version = installed && *installed ? (*installed)->fields.version : "";
  st.last = recovery_outcome{true, st.donor, version, ms, report.detail, std::time(nullptr)};
  enter(self, recovery_phase::done);
  send_to(self, roles::donor, caf::make_message(own_image_state{true}));
  st.ctx->log->info("coordinator", "recovered {} from {} in {} ms", st.ctx->config.id, st.donor,
                    ms);
}

/// At start: a journal means a recovery was interrupted; pick it up where it stood.
void resume_from_journal(self_ptr self) {
  auto& st = self->state;
  auto journal = st.ctx->store->journal();
  if (!journal) {
    st.ctx->log->error("coordinator", "cannot read the journal: {}", describe(journal.error()));
    return;
  }
  if (!*journal)
    return;
  const auto& j = **journal;
  st.ctx->log->warn("coordinator",
                    "journal: a recovery from {} was interrupted while {}; "
                    "resuming",
                    j.donor, to_string(j.at));
  st.reason = "resuming an interrupted recovery";
  st.trigger.reset();
  st.attempt = 1;
  ++st.generation;
  st.started = std::chrono::steady_clock::now();
  st.donor = j.donor;
  if (j.at == recovery_journal::phase::transferring)
    return discover(self);
  // Staged or flashing: the staged image is complete; the flasher checks it before writing.
  start_flash(self, flash_job{j.target, j.donor});
}

} // namespace

donor_history recent_history(const coordinator_state& st,
                             std::chrono::steady_clock::time_point now) {
  donor_history out;
  for (const auto& [donor, marks] : st.donor_marks)
    for (const auto& m : marks)
      if (now - m.at < donor_memory) {
        auto& entry = out[donor];
        ++entry.recent_failures;
        entry.recent_bad_blocks += m.bad_block ? 1 : 0;
      }
  return out;
}

const char* to_string(recovery_phase p) {
  static constexpr const char* names[] = {"idle",         "discovering", "negotiating",
                                          "transferring", "staged",      "flashing",
                                          "verifying",    "done",        "failed"};
  return names[static_cast<int>(p)];
}

std::string status_json(const coordinator_state& st) {
  const auto& ctx = *st.ctx;
  nlohmann::ordered_json j;
  j["node"] = ctx.config.id;
  j["role"] = to_string(ctx.config.role);
  j["state"] = to_string(st.phase);
  j["safe_hold"] = st.safe_hold;
  j["policy"] = ctx.config.recovery.policy;
  auto installed = ctx.store->installed_manifest();
  if (installed && *installed) {
    const auto& f = (*installed)->fields;
    j["installed"] = {{"platform", f.platform.vendor + ":" + f.platform.board},
                      {"version", f.version},
                      {"svn", f.svn},
                      {"root", to_hex(f.merkle_root)}};
  } else {
    j["installed"] = nullptr;
  }
  auto floor = ctx.store->svn_floor();
  j["svn_floor"] = std::max(ctx.config.svn_floor, floor ? *floor : 0u);
  j["last_check"] = {{"checked", st.last_check.checked},
                     {"ok", st.last_check.ok()},
                     {"detail", st.last_check.detail}};
  if (recovering(st.phase)) {
    j["recovery"] = {{"reason", st.reason}, {"attempt", st.attempt}, {"donor", st.donor}};
    if (st.progress_total > 0)
      j["progress"] = {{"phase", to_string(st.phase)},
                       {"done", st.progress_done},
                       {"total", st.progress_total},
                       {"percent", st.progress_done * 100 / st.progress_total}};
  }
  if (st.last) {
    j["last_recovery"] = {{"succeeded", st.last->succeeded}, {"donor", st.last->donor},
                          {"version", st.last->version},     {"duration_ms", st.last->duration_ms},
                          {"detail", st.last->detail},       {"finished_at", st.last->finished_at}};
  }
  if (st.last_negotiation) {
    auto offers = nlohmann::ordered_json::array();
    for (const auto& v : st.last_negotiation->verdicts)
      offers.push_back({{"donor", v.donor},
                        {"role", v.role},
                        {"version", v.version},
                        {"svn", v.svn},
                        {"compatible", v.compatible},
                        {"reason", v.reason},
                        {"rank", v.rank}});
    j["last_negotiation"] = {{"policy", st.last_negotiation->policy},
                             {"accepted", st.last_negotiation->accepted},
                             {"offers", offers}};
  }
  return j.dump();
}

caf::behavior coordinator(caf::stateful_actor<coordinator_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  return {
    // Resuming sends to the flasher, which must be registered: the supervisor says when.
    [=](start_atom) { resume_from_journal(self); },
    [=](flash_report& report) {
      auto& st = self->state;
      st.last_check = report;
      if (report.checked && !report.ok() && st.ctx->config.monitor.auto_recover)
        start_recovery(self, report.detail, report);
    },
    [=](recover_atom) -> std::string {
      auto& st = self->state;
      if (st.safe_hold)
        return "refused: the node is in safe hold";
      if (recovering(st.phase))
        return fmt::format("a recovery is already in progress ({})", to_string(st.phase));
      start_recovery(self, "operator request");
      return "recovery started";
    },
    [=](status_atom) -> std::string { return status_json(self->state); },
    [=](offers_collected& offers) {
      enter(self, recovery_phase::negotiating);
      offers.history = recent_history(self->state, std::chrono::steady_clock::now());
      auto neg = find_role(self->system(), roles::negotiation);
      self->request(neg, caf::infinite, std::move(offers))
        .then([=](negotiation_result& result) { negotiated(self, result); },
              [=](caf::error& err) { attempt_failed(self, "negotiation: " + describe(err)); });
    },
    [=](donor_confirmed& c) {
      self->state.donor = c.donor;
      if (self->state.last_negotiation)
        self->state.last_negotiation->accepted = c.donor;
      enter(self, recovery_phase::transferring);
    },
    [=](transfer_progress& p) {
      self->state.progress_done = p.blocks_have;
      self->state.progress_total = p.blocks_total;
    },
    [=](transfer_done& d) {
      enter(self, recovery_phase::staged);
      start_flash(self, flash_job{std::move(d.target), d.donor, std::move(d.staged),
                                       std::move(d.verified)});
    },
    [=](transfer_failed& f) { attempt_failed(self, f.reason); },
    [=](flash_progress& p) {
      self->state.progress_done = p.sectors_done;
      self->state.progress_total = p.sectors_total;
    },
    [=](flash_done& d) {
      auto& st = self->state;
      st.ctx->log->info("coordinator",
                        "flash written: {} of {} sectors differed (plan and check {} ms; erase and "
                        "program {} ms; read back and final check {} ms)",
                        d.sectors_written, d.sectors_total, d.plan_ms, d.write_ms, d.check_ms);
      // The flasher's last step read the whole flash back and checked it against the signed
      // root; that check is the verification (the monitor's next periodic check repeats it).
      enter(self, recovery_phase::verifying);
      st.last_check = d.check;
      send_to(self, roles::monitor, caf::make_message(resume_atom::value));
      verified(self, d.check);
    },
    [=](flash_failed& f) {
      send_to(self, roles::monitor, caf::make_message(resume_atom::value));
      attempt_failed(self, f.reason);
    },
    [=](retry_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.generation || st.safe_hold)
        return;
      ++st.attempt;
      discover(self);
    },
    [=](donor_dropped& d) {
      auto& marks = self->state.donor_marks[d.donor];
      auto now = std::chrono::steady_clock::now();
      std::erase_if(marks, [&](const auto& m) { return now - m.at >= donor_memory; });
      marks.push_back({now, d.bad_block});
    },
    [=](context_update& u) {
      auto& st = self->state;
      st.ctx = std::move(u.ctx);
      st.ctx->log->info("coordinator",
                        "configuration reloaded: policy {} from the next "
                        "negotiation",
                        st.ctx->config.recovery.policy);
    },
    [=](hold_atom) {
      auto& st = self->state;
      st.safe_hold = true;
      st.phase = recovery_phase::failed;
      st.failure = "safe hold: too many actor restarts; no flash writes until restarted";
    },
  };
}

} // namespace fwrescue
