#include "actors/coordinator.hpp"

#include <algorithm>
#include <ctime>
#include <utility>

#include <fmt/format.h>
#include <sodium.h>

#include "actors/coordinator_steps.hpp"
#include "actors/transfer.hpp"
#include "common/error.hpp"
#include "hal/boot_history.hpp"
#include "transports/link_timing.hpp"

namespace fwrescue {

namespace {

using namespace coordinator_steps;

/// How long negotiation may take to rank the offers.
constexpr auto negotiation_timeout = std::chrono::seconds(10);

} // namespace

namespace coordinator_steps {

/// Moves the phase's deadline to recovery.stall_timeout_s from now (or `timeout`); one timer at
/// a time watches it and finds out when it fires whether the deadline moved meanwhile.
void extend_deadline(self_ptr self, std::chrono::milliseconds timeout) {
  auto& st = self->state;
  if (timeout.count() == 0)
    timeout = std::chrono::seconds(st.ctx->config.recovery.stall_timeout_s);
  st.deadline = self->clock().now() + timeout;
  if (!st.deadline_timer) {
    st.deadline_timer = true;
    self->delayed_send(self, timeout, deadline_atom::value);
  }
}

void enter(self_ptr self, recovery_phase next) {
  auto& st = self->state;
  if (st.phase == next)
    return;
  st.ctx->log->info("coordinator", "state {} -> {}", to_string(st.phase), to_string(next));
  st.phase = next;
  st.progress_done = st.progress_total = 0;
  st.meter.reset();
  if (recovering(next))
    extend_deadline(self);
}

/// Hands a job to the actor in `role` and watches that actor: should it die before it reports,
/// the job fails. Returns the job's number, or 0 when nobody holds the role.
uint64_t dispatch(self_ptr self, caf::atom_value role, caf::message msg) {
  auto& st = self->state;
  auto dest = find_role(self->system(), role, *self->state.ctx);
  if (!dest) {
    attempt_failed(self, fmt::format("no {} actor", caf::to_string(role)));
    return 0;
  }
  if (st.worker)
    self->demonitor(st.worker);
  st.worker = dest.address();
  self->monitor(dest);
  self->send(dest, std::move(msg));
  return st.job;
}

/// The job done (or failed): nobody is watched any more.
void job_over(self_ptr self) {
  auto& st = self->state;
  if (st.worker)
    self->demonitor(st.worker);
  st.worker = caf::actor_addr{};
}

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
  if (auto revoked = st.ctx->store->revocations(); revoked && *revoked)
    req.revocation_serial = (*revoked)->fields.serial;
  if (auto failed = boot_history{st.ctx->store->dir()}.failed_roots(); failed)
    req.exclude_roots = std::move(*failed);
  st.request = req;
  // Discovery answers after its window; a little more than that is its deadline.
  ++st.job;
  extend_deadline(self,
                  node_discovery_window(
                    std::chrono::milliseconds(st.ctx->config.recovery.discovery_window_ms),
                    st.ctx->link->properties())
                    + std::chrono::seconds(5));
  dispatch(self, roles::discovery, caf::make_message(req));
}

void attempt_failed(self_ptr self, const std::string& why, uint32_t busy_retry_ms) {
  auto& st = self->state;
  auto& rc = st.ctx->config.recovery;
  cancel_fetch(self);
  job_over(self);
  // Reports of the failed job, should they still come, no longer count.
  ++st.job;
  // Donors whose slots are all taken free one within about a transfer's time; a rack recovering
  // at once meets them everywhere. Asking again soon serves it sooner than a doubling backoff,
  // and counting it would end the recovery of a node that only waited its turn. The wait is
  // half what the donors asked for (they say when a slot may be free, not when it will be),
  // at least backoff_initial_ms and at most backoff_max_ms, from a random moment of its second
  // half on, so the recipients turned away together do not come back together and a swarm's
  // requests, each answered by every donor, do not take the CPU its transfers need.
  auto busy_wait = [&] {
    auto longest = std::clamp(busy_retry_ms / 2, rc.backoff_initial_ms,
                              std::max(rc.backoff_initial_ms, rc.backoff_max_ms));
    return std::chrono::milliseconds(longest / 2 + randombytes_uniform(longest / 2 + 1));
  };
  auto wait = busy_retry_ms != 0 ? busy_wait() : std::chrono::milliseconds{0};
  if (busy_retry_ms != 0 && !st.only_from && !st.safe_hold
      && st.busy_waited + wait <= std::chrono::seconds(rc.busy_wait_s)) {
    st.busy_waited += wait;
    st.ctx->log->info("coordinator",
                      "attempt {}: every donor is busy ({}); asking again in {} ms, not counted "
                      "as a failed attempt ({} of {} s waited for busy donors)",
                      st.attempt, why, wait.count(),
                      std::chrono::duration_cast<std::chrono::seconds>(st.busy_waited).count(),
                      rc.busy_wait_s);
    enter(self, recovery_phase::discovering);
    st.job = 0;
    st.busy_retry = true;
    self->delayed_send(self, wait, retry_atom::value, st.generation, st.attempt);
    return;
  }
  // An image the operator named is tried once: its failure is the answer they wait for.
  auto attempts = st.only_from ? 1u : rc.max_attempts;
  st.ctx->log->warn("coordinator", "attempt {} of {} failed: {}", st.attempt, attempts, why);
  if (st.attempt < attempts && !st.safe_hold) {
    // The shift is capped: a 32-bit initial value shifted by 32 already exceeds any maximum,
    // and a shift by 64 or more (max_attempts may be large) is undefined.
    auto backoff = std::min<uint64_t>(
      uint64_t{rc.backoff_initial_ms} << std::min<uint32_t>(st.attempt - 1, 32), rc.backoff_max_ms);
    st.ctx->log->info("coordinator", "retrying in {} ms", backoff);
    enter(self, recovery_phase::discovering); // still recovering while the timer runs
    st.job = 0;                               // no job in flight: no deadline until it starts
    self->delayed_send(self, std::chrono::milliseconds(backoff), retry_atom::value, st.generation,
                       st.attempt);
    return;
  }
  enter(self, recovery_phase::failed);
  send_to(self, roles::transfer, caf::make_message(ready_memory{})); // releases it, if unused
  st.failure = why;
  st.last = recovery_outcome{false, st.recoveries, st.donor, "", "", elapsed_ms(st), why,
                             std::time(nullptr)};
  st.ctx->metrics->recovery_ended(st.ctx->target, false, "", st.last->duration_ms);
  st.ctx->log->error("coordinator", "recovery failed after {} attempt(s): {}", st.attempt, why);
}

} // namespace coordinator_steps

namespace {

/// The job in flight failed (`why`): a flash is tried again from the staged image; a
/// discovery, negotiation, transfer or fetch ends its source, and the next one is tried.
void job_failed(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.phase == recovery_phase::flashing)
    return flash_failed_with(self, why, false);
  if (st.phase == recovery_phase::transferring) {
    if (auto transfer = find_role(self->system(), roles::transfer, *st.ctx))
      self->send(transfer, transfer_cancel{st.job, why});
    cancel_fetch(self);
  }
  if (st.phase == recovery_phase::discovering || st.phase == recovery_phase::negotiating
      || st.phase == recovery_phase::transferring)
    return source_failed(self, why);
  attempt_failed(self, why);
}

// -- one function per state ----------------------------------------------------------------------

void check_deadline(self_ptr self) {
  auto& st = self->state;
  st.deadline_timer = false;
  if (!recovering(st.phase) || st.safe_hold)
    return;
  auto now = self->clock().now();
  if (now < st.deadline) {
    st.deadline_timer = true;
    self->delayed_send(self, st.deadline - now, deadline_atom::value);
    return;
  }
  // A phase waiting only for the backoff timer has no deadline of its own.
  if (st.phase == recovery_phase::discovering && st.job == 0)
    return;
  auto why = fmt::format("no progress while {} for {} s", to_string(st.phase),
                         st.ctx->config.recovery.stall_timeout_s);
  // A flasher that hangs holds the chip: the next flash job waits behind it in its mailbox, and
  // runs (from the staged image, writing only what still differs) if it ever comes back.
  job_failed(self, why);
}

void negotiated(self_ptr self, negotiation_result& result) {
  auto& st = self->state;
  st.last_negotiation = result;
  if (result.ranked.empty()) {
    auto why =
      result.verdicts.empty()
        ? std::string{"no compatible image: no donor answered"}
        : fmt::format("no compatible image: none of {} offer(s) qualified", result.verdicts.size());
    return source_failed(self, why);
  }
  // Only the first attempt trusts the check that started the recovery: a later one may follow a
  // flash that failed half way, and looks at the flash afresh.
  auto known = st.attempt == 1 && st.trigger ? *st.trigger : flash_report{};
  ++st.job;
  transfer_job job{st.job, st.request, std::move(result.ranked), std::move(known), st.recoveries};
  dispatch(self, roles::transfer, caf::make_message(std::move(job)));
}

/// The actor doing the current job died before it reported.
void worker_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  if (dm.source != st.worker || !recovering(st.phase))
    return;
  auto why = fmt::format("the actor doing the job died while {} ({})", to_string(st.phase),
                         describe(dm.reason));
  st.worker = caf::actor_addr{};
  job_failed(self, why);
}

} // namespace

namespace coordinator_steps {

void send_to(self_ptr self, caf::atom_value role, caf::message msg) {
  if (auto dest = find_role(self->system(), role, *self->state.ctx))
    self->send(dest, std::move(msg));
  else
    self->state.ctx->log->error("coordinator", "no {} actor to send to", caf::to_string(role));
}

void image_staged(self_ptr self, transfer_done& d) {
  job_over(self);
  source_served(self, d.donor);
  enter(self, recovery_phase::staged);
  self->state.flashes = 0;
  start_flash(self,
              flash_job{std::move(d.target), d.donor, std::move(d.staged), std::move(d.verified)});
}

void start_recovery(self_ptr self, const std::string& reason,
                    std::optional<flash_report> trigger,
                    std::shared_ptr<image_location> only_from) {
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
  st.only_from = std::move(only_from);
  ++st.recoveries;
  st.attempt = 1;
  st.busy_waited = {};
  st.busy_retry = false;
  st.flashes = 0;
  ++st.generation;
  st.started = std::chrono::steady_clock::now();
  st.failure.clear();
  st.donor.clear();
  first_source(self);
  // While offers are awaited, the transfer readies memory for the blocks found bad.
  if (st.trigger)
    send_to(self, roles::transfer, caf::make_message(ready_memory{*st.trigger}));
}

} // namespace coordinator_steps

caf::behavior coordinator(caf::stateful_actor<coordinator_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  self->set_down_handler([self](caf::down_msg& dm) { worker_down(self, dm); });
  // A report about another job than the one in flight is late: it is dropped.
  auto current = [self](uint64_t job) { return job != 0 && job == self->state.job; };
  return {
    // Resuming sends to the flasher, which must be registered: the supervisor says when.
    [=](start_atom) { resume_from_journal(self); },
    [=](flash_report& report) {
      auto& st = self->state;
      st.last_check = report;
      if (report.fault != flash_fault::none)
        st.ctx->log->error("coordinator", "no recovery: {}", report.detail);
      if (after_boot_failure(self, report))
        return;
      if (report.needs_recovery() && st.ctx->config.monitor.auto_recover)
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
    [=](recover_from_location& r) -> recovery_started { return recover_from(self, r); },
    [=](status_atom) -> std::string { return status_json(self->state); },
    [=](ping_atom) { return ping_atom::value; },
    [=](boot_result& r) { boot_reported(self, r); },
    [=](more_donors& m) { ask_more(self, m); },
    [=](offers_collected& offers) {
      auto& st = self->state;
      if (more_offers(self, offers))
        return;
      if (st.phase != recovery_phase::discovering
          || st.request.request_id != offers.request.request_id)
        return;
      job_over(self);
      enter(self, recovery_phase::negotiating);
      offers.history = recent_history(st, std::chrono::steady_clock::now());
      auto neg = find_role(self->system(), roles::negotiation, *self->state.ctx);
      auto generation = st.generation;
      auto attempt = st.attempt;
      self->request(neg, negotiation_timeout, std::move(offers))
        .then(
          [=](negotiation_result& result) {
            if (self->state.generation == generation && self->state.attempt == attempt
                && self->state.phase == recovery_phase::negotiating)
              negotiated(self, result);
          },
          [=](caf::error& err) {
            if (self->state.generation == generation && self->state.attempt == attempt
                && self->state.phase == recovery_phase::negotiating)
              source_failed(self, "negotiation: " + describe(err));
          });
    },
    [=](donor_confirmed& c) {
      if (!current(c.job))
        return;
      self->state.donor = c.donor;
      if (self->state.last_negotiation)
        self->state.last_negotiation->accepted = c.donor;
      enter(self, recovery_phase::transferring);
      extend_deadline(self);
    },
    [=](transfer_progress& p) {
      if (!current(p.job))
        return;
      self->state.progress_done = p.blocks_have;
      self->state.progress_total = p.blocks_total;
      self->state.meter.report(p.blocks_have, p.blocks_total, p.block_size,
                               std::chrono::steady_clock::now());
      extend_deadline(self);
    },
    [=](transfer_done& d) {
      if (current(d.job))
        image_staged(self, d);
    },
    [=](transfer_failed& f) {
      if (current(f.job))
        source_failed(self, f.reason, f.busy_retry_ms);
    },
    [=](fetch_done& d) { fetched(self, d); },
    [=](fetch_failed& f) {
      if (current(f.job))
        source_failed(self, f.reason);
    },
    [=](media_changed_atom) { media_changed(self); },
    [=](flash_progress& p) {
      if (!current(p.job))
        return;
      self->state.progress_done = p.sectors_done;
      self->state.progress_total = p.sectors_total;
      self->state.meter.report(p.sectors_done, p.sectors_total, p.sector_size,
                               std::chrono::steady_clock::now());
      extend_deadline(self);
    },
    [=](flash_done& d) {
      auto& st = self->state;
      if (!current(d.job))
        return;
      job_over(self);
      st.ctx->log->info("coordinator",
                        "flash written: {} of {} sectors differed (plan and check {} ms; erase and "
                        "program {} ms; read back and final check {} ms)",
                        d.sectors_written, d.sectors_total, d.plan_ms, d.write_ms, d.check_ms);
      st.ctx->metrics->flash_seconds.observe(
        {st.ctx->target}, static_cast<double>(d.plan_ms + d.write_ms + d.check_ms) / 1000.0);
      // The flasher's last step read the whole flash back and checked it against the signed
      // root; that check is the verification (the monitor's next periodic check repeats it).
      enter(self, recovery_phase::verifying);
      st.last_check = d.check;
      verified(self, d.check);
    },
    [=](flash_failed& f) {
      if (current(f.job))
        flash_failed_with(self, f.reason, f.untouched);
    },
    [=](retry_atom, uint64_t generation, uint32_t attempt) {
      auto& st = self->state;
      if (generation != st.generation || attempt != st.attempt || st.safe_hold
          || !recovering(st.phase))
        return;
      if (!std::exchange(st.busy_retry, false))
        ++st.attempt;
      first_source(self);
    },
    [=](reflash_atom, uint64_t generation, const std::string& why) {
      auto& st = self->state;
      if (generation != st.generation || st.safe_hold || !recovering(st.phase))
        return;
      flash_from_journal(self, why);
    },
    [=](deadline_atom) { check_deadline(self); },
    [=](donor_dropped& d) { remember_dropped(self, d); },
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
