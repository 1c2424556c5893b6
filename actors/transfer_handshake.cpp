#include "actors/transfer_steps.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"
#include "transports/link_timing.hpp"

namespace fwrescue::transfer_steps {

namespace {

using clock = transfer_state::clock;

/// The time after which the next donor starts although the earlier ones have not answered: a
/// share of the handshake time, so that the first choice still gets a head start.
std::chrono::milliseconds stagger(const recovery_config& rc) {
  return std::chrono::milliseconds(
    std::max<uint32_t>(1, rc.handshake_timeout_ms / std::max<uint32_t>(1, rc.parallel_handshakes)));
}

void start_handshake(self_ptr self, candidate d) {
  auto& st = self->state;
  const auto& rc = st.ctx->config.recovery;
  const auto& addr = d.source.fields.session_address;
  st.ctx->log->info("transfer", "opening a session to {} at {}", d.source.fields.donor, addr);
  auto id = st.ctx->link->open_session(addr);
  auto timeout = handshake_timeout(std::chrono::milliseconds(rc.handshake_timeout_ms),
                                   st.ctx->link->address_properties(addr));
  st.handshakes[id] = {std::move(d), false, self->clock().now() + timeout, timeout};
  if (auto router = find_role(self->system(), roles::router, *self->state.ctx))
    self->send(router, claim_session{id});
  self->delayed_send(self, timeout, handshake_atom::value, id);
  if (st.at == transfer_state::phase::idle)
    st.at = transfer_state::phase::connecting;
}

/// Ends a handshake that failed, and starts whoever is next.
void fail_handshake(self_ptr self, session_id id, const std::string& reason, bool close = true) {
  auto& st = self->state;
  auto i = st.handshakes.find(id);
  if (i == st.handshakes.end())
    return;
  auto donor = i->second.donor.source.fields.donor;
  st.handshakes.erase(i);
  if (close) {
    send_on(self, id, abort_transfer{reason});
    st.ctx->link->close_session(id);
  }
  record_failure(self, donor, reason);
  race(self);
}

} // namespace

void start_job(self_ptr self, transfer_job& job) {
  auto& st = self->state;
  // Sessions of an earlier job are let go.
  for (auto& [id, h] : st.handshakes)
    st.ctx->link->close_session(id);
  st.handshakes.clear();
  if (st.session != 0)
    st.ctx->link->close_session(st.session);
  st.session = 0;
  st.current.reset();
  st.job = job.job;
  st.job_started = self->clock().now();
  st.request = job.request;
  st.flash_check = std::move(job.flash_check);
  // A new attempt looks at the staging file and the flash afresh: a failed flash may have
  // changed blocks an earlier attempt found there (staged blocks are found again in the
  // staging file, by their digests, when the journal names the same image).
  st.staged_root = digest{};
  st.verifying = 0;
  ++st.epoch;
  st.queue = std::move(job.candidates);
  st.next = 0;
  st.failures.clear();
  st.at = transfer_state::phase::idle;
  st.next_start = clock::time_point{};
  st.active = true;
  race(self);
}

void cancel_job(self_ptr self, const transfer_cancel& c) {
  auto& st = self->state;
  if (c.job != st.job || !st.active)
    return;
  st.ctx->log->warn("transfer", "job {} given up: {}", c.job, c.reason);
  for (auto& [id, h] : st.handshakes) {
    send_on(self, id, abort_transfer{c.reason});
    st.ctx->link->close_session(id);
  }
  st.handshakes.clear();
  if (st.session != 0) {
    send_on(self, st.session, abort_transfer{c.reason});
    st.ctx->link->close_session(st.session);
  }
  st.session = 0;
  st.current.reset();
  st.outstanding.clear();
  st.verifying = 0;
  ++st.epoch;
  st.active = false;
  st.at = transfer_state::phase::idle;
}

/// Whether a handshake with this donor is pending. A donor that offered over several links is
/// tried over one at a time: its accept over a second link would take the offer from the first.
bool in_handshake(const transfer_state& st, const public_key& donor) {
  return std::any_of(st.handshakes.begin(), st.handshakes.end(),
                     [&](const auto& h) { return h.second.donor.source.fields.donor_key == donor; });
}

void race(self_ptr self) {
  auto& st = self->state;
  if (!st.active || st.current)
    return; // Done, or a donor confirmed and the rest wait in the queue in case it fails.
  const auto& rc = st.ctx->config.recovery;
  auto now = self->clock().now();
  while (st.next < st.queue.size() && st.handshakes.size() < rc.parallel_handshakes
         && (st.handshakes.empty() || now >= st.next_start)
         && !in_handshake(st, st.queue[st.next].source.fields.donor_key)) {
    start_handshake(self, st.queue[st.next++]);
    st.next_start = now + stagger(rc);
  }
  if (st.handshakes.empty()) {
    st.at = transfer_state::phase::idle;
    st.active = false;
    std::string why;
    for (const auto& f : st.failures)
      why += (why.empty() ? "" : "; ") + f;
    transfer_failed failed{why.empty() ? "no donor to pull from" : "every donor failed: " + why};
    failed.job = st.job;
    tell_coordinator(self, caf::make_message(std::move(failed)));
    return;
  }
  // Handshakes are pending and more donors wait: the next starts when the stagger has passed.
  if (st.next < st.queue.size() && st.handshakes.size() < rc.parallel_handshakes
      && !st.start_timer && !in_handshake(st, st.queue[st.next].source.fields.donor_key)) {
    st.start_timer = true;
    self->delayed_send(self, st.next_start - now, race_atom::value);
  }
}

bool handshake_opened(self_ptr self, session_id id) {
  auto& st = self->state;
  auto i = st.handshakes.find(id);
  if (i == st.handshakes.end())
    return false;
  auto& h = i->second;
  h.opened = true;
  h.plan = plan_digests(self, h.donor);
  h.compress = wants_compression(self, id);
  accept_fields fields{st.request.request_id,
                       st.request.challenge,
                       st.ctx->config.id,
                       st.ctx->node_key->public_part(),
                       h.donor.manifest.fields.merkle_root,
                       h.donor.source.fields.donor_key,
                       h.compress,
                       h.plan != transfer_state::digest_plan::leaves};
  send_on(self, id, make_accept(std::move(fields), *st.ctx->node_key));
  if (st.at == transfer_state::phase::connecting)
    st.at = transfer_state::phase::confirming;
  return true;
}

bool handshake_message(self_ptr self, session_message& sm) {
  auto& st = self->state;
  auto i = st.handshakes.find(sm.id);
  if (i == st.handshakes.end())
    return false;
  std::visit(
    [&](auto& m) {
      using T = std::decay_t<decltype(m)>;
      if constexpr (std::is_same_v<T, confirm>) {
        if (!i->second.opened)
          return fail_handshake(self, sm.id, "sent a confirm before the accept");
        auto asked_none = i->second.plan != transfer_state::digest_plan::leaves;
        if (m.leaves_omitted && !asked_none)
          return fail_handshake(self, sm.id, "omitted the block digests it was asked for");
        // A donor that does not know the field sends leaves although the accept asked for none.
        st.plan = m.leaves_omitted ? i->second.plan : transfer_state::digest_plan::leaves;
        st.compress = i->second.compress;
        auto d = std::move(i->second.donor);
        st.handshakes.erase(i);
        // The first to confirm is pulled from; the others are let go at once, freeing their
        // upload slots, and wait in the queue in case this one fails.
        for (auto& [id, h] : st.handshakes) {
          send_on(self, id, abort_transfer{"another donor confirmed first"});
          st.ctx->link->close_session(id);
          st.queue.insert(st.queue.begin() + static_cast<ptrdiff_t>(st.next), std::move(h.donor));
        }
        st.handshakes.clear();
        begin_pull(self, sm.id, std::move(d));
      } else if constexpr (std::is_same_v<T, busy>) {
        fail_handshake(self, sm.id, fmt::format("busy (retry after {} ms)", m.retry_after_ms));
      } else if constexpr (std::is_same_v<T, decline>) {
        fail_handshake(self, sm.id, "declined: " + m.reason);
      } else if constexpr (std::is_same_v<T, abort_transfer>) {
        fail_handshake(self, sm.id, "aborted: " + m.reason);
      } else if constexpr (std::is_same_v<T, refusal>) {
        fail_handshake(self, sm.id, "refused: " + m.reason);
      } else {
        fail_handshake(self, sm.id,
                       fmt::format("sent {} before confirming", kind_name(wire_message{m})));
      }
    },
    sm.msg);
  return true;
}

bool handshake_closed(self_ptr self, session_id id, const std::string& reason) {
  if (self->state.handshakes.count(id) == 0)
    return false;
  fail_handshake(self, id, "connection lost: " + reason, false);
  return true;
}

void handshake_deadline(self_ptr self, session_id id) {
  auto& st = self->state;
  auto i = st.handshakes.find(id);
  if (i == st.handshakes.end() || self->clock().now() < i->second.deadline)
    return;
  fail_handshake(self, id,
                 fmt::format("did not confirm within {} ms", i->second.timeout.count()));
}

} // namespace fwrescue::transfer_steps
