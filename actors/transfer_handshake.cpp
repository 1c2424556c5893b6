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

uint32_t max_donors(const recovery_config& rc) {
  return std::max<uint32_t>(1, rc.max_donors);
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

/// Ends every session of the job (handshakes and donors), telling each why when `reason` is set.
void end_sessions(self_ptr self, const std::string& reason) {
  auto& st = self->state;
  for (auto& [id, h] : st.handshakes) {
    if (!reason.empty())
      send_on(self, id, abort_transfer{reason});
    st.ctx->link->close_session(id);
  }
  st.handshakes.clear();
  for (auto& [id, p] : st.pullers) {
    if (!reason.empty())
      send_on(self, id, abort_transfer{reason});
    st.ctx->link->close_session(id);
  }
  st.pullers.clear();
  st.lead = 0;
  st.digests_known = false;
  st.walk.reset();
  st.claims.clear();
}

void start_job(self_ptr self, transfer_job& job) {
  auto& st = self->state;
  // Sessions of an earlier job are let go. What peers are served of the image being pulled
  // stays (a failed attempt's verified blocks are still good) until the staging file is
  // prepared for another image; an image handed to the flasher goes now.
  end_sessions(self, {});
  withdraw_handed_over(self);
  st.job = job.job;
  st.job_started = self->clock().now();
  st.request = job.request;
  st.flash_check = std::move(job.flash_check);
  // A new attempt looks at the staging file and the flash afresh: a failed flash may have
  // changed blocks an earlier attempt found there (staged blocks are found again in the
  // staging file, by their digests, when the journal names the same image).
  st.staged_root = digest{};
  ++st.epoch;
  st.queue = std::move(job.candidates);
  st.next = 0;
  st.failures.clear();
  st.only_busy = true;
  st.busy_hint_ms = 0;
  if (job.recovery != st.recovery)
    st.liars.clear();
  st.recovery = job.recovery;
  st.ended.clear();
  st.more_asked = {};
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
  end_sessions(self, c.reason);
  ++st.epoch;
  st.active = false;
  st.at = transfer_state::phase::idle;
}

/// Whether a handshake with this donor is pending, or it is being pulled from. A donor that
/// offered over several links is taken up over one at a time: its accept over a second link
/// would take the offer from the first.
bool engaged(const transfer_state& st, const public_key& donor) {
  return std::any_of(st.handshakes.begin(), st.handshakes.end(),
                     [&](const auto& h) { return h.second.donor.source.fields.donor_key == donor; })
         || std::any_of(st.pullers.begin(), st.pullers.end(), [&](const auto& p) {
              return p.second.donor.source.fields.donor_key == donor;
            });
}

/// Whether `c` may be taken up now: not a donor that lied in this job, not one already engaged,
/// and, once donors are being pulled from, offering the image they serve.
bool eligible(const transfer_state& st, const candidate& c) {
  const auto& key = c.source.fields.donor_key;
  if (std::find(st.liars.begin(), st.liars.end(), key) != st.liars.end() || engaged(st, key))
    return false;
  if (st.pullers.empty())
    return true;
  if (!same_image(c.manifest, st.target))
    return false;
  // A console beside a peer holding the whole image would be asked for nothing (it serves only
  // what no peer holds) and would sit on one of its upload slots.
  return c.role != node_role::console
         || std::none_of(st.pullers.begin(), st.pullers.end(), [](const auto& p) {
              return p.second.donor.role != node_role::console && !p.second.holds;
            });
}

/// Moves the next candidate that may be taken up to the front of what is left of the queue.
bool next_eligible(transfer_state& st) {
  for (auto k = st.next; k < st.queue.size(); ++k)
    if (eligible(st, st.queue[k])) {
      std::rotate(st.queue.begin() + static_cast<ptrdiff_t>(st.next),
                  st.queue.begin() + static_cast<ptrdiff_t>(k),
                  st.queue.begin() + static_cast<ptrdiff_t>(k) + 1);
      return true;
    }
  return false;
}


void race(self_ptr self) {
  auto& st = self->state;
  if (!st.active)
    return;
  const auto& rc = st.ctx->config.recovery;
  auto now = self->clock().now();
  // Before any donor confirms, handshakes are raced as far as the parallel bound; after, the
  // donors pulled from and those being taken up stay within max_donors.
  auto room = [&] {
    return st.handshakes.size() < rc.parallel_handshakes
           && (st.pullers.empty() || st.pullers.size() + st.handshakes.size() < max_donors(rc));
  };
  while (room() && (st.handshakes.empty() || now >= st.next_start) && next_eligible(st)) {
    start_handshake(self, st.queue[st.next++]);
    st.next_start = now + stagger(rc);
  }
  if (st.handshakes.empty() && st.pullers.empty()) {
    st.at = transfer_state::phase::idle;
    st.active = false;
    std::string why;
    for (const auto& f : st.failures)
      why += (why.empty() ? "" : "; ") + f;
    transfer_failed failed{why.empty() ? "no donor to pull from" : "every donor failed: " + why};
    failed.job = st.job;
    if (st.only_busy && !st.failures.empty())
      failed.busy_retry_ms = st.busy_hint_ms;
    tell_coordinator(self, caf::make_message(std::move(failed)));
    return;
  }
  // Handshakes are pending and more donors wait: the next starts when the stagger has passed.
  if (room() && !st.handshakes.empty() && !st.start_timer && next_eligible(st)) {
    st.start_timer = true;
    self->delayed_send(self, st.next_start - now, race_atom::value);
  }
  if (!next_eligible(st))
    ask_for_more(self);
}

void take_more(self_ptr self, more_candidates& m) {
  auto& st = self->state;
  if (m.job != st.job || !st.active)
    return;
  // Candidates tried already are let go: a transfer asking again and again on a slow link would
  // otherwise keep every offer it ever heard. What waits stays within one request's bound.
  st.queue.erase(st.queue.begin(), st.queue.begin() + static_cast<ptrdiff_t>(st.next));
  st.next = 0;
  const size_t bound = st.ctx->config.limits.offers_per_request;
  for (auto& c : m.candidates) {
    const auto& key = c.source.fields.donor_key;
    bool queued = std::any_of(st.queue.begin(), st.queue.end(),
                              [&](const candidate& q) { return q.source.fields.donor_key == key; });
    if (!queued && st.queue.size() < bound && same_image(c.manifest, st.target))
      st.queue.push_back(std::move(c));
  }
  race(self);
}

bool handshake_opened(self_ptr self, session_id id) {
  auto& st = self->state;
  auto i = st.handshakes.find(id);
  if (i == st.handshakes.end())
    return false;
  auto& h = i->second;
  h.opened = true;
  const auto& root = h.donor.manifest.fields.merkle_root;
  // A donor joining those already pulled from needs send no digests: they are known, or coming
  // through the donor that leads.
  bool joining = !st.pullers.empty() && same_image(st.target, h.donor.manifest);
  h.plan = joining ? transfer_state::digest_plan::held : plan_digests(self, h.donor);
  h.compress = wants_compression(self, id);
  // The offer answered a request of ours (discovery checked the echo): the accept names that
  // request, which may be a later one than the job's.
  const auto& offer = h.donor.source.fields;
  accept_fields fields{offer.request_id,
                       offer.challenge,
                       st.ctx->config.id,
                       st.ctx->node_key->public_part(),
                       root,
                       offer.donor_key,
                       h.compress,
                       h.plan != transfer_state::digest_plan::leaves};
  fields.blocks_held = st.staged_root == root ? st.have_count : 0;
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
        auto plan = m.leaves_omitted ? i->second.plan : transfer_state::digest_plan::leaves;
        auto compress = i->second.compress;
        auto d = std::move(i->second.donor);
        st.handshakes.erase(i);
        bool first = st.pullers.empty();
        if (!first && (!same_image(d.manifest, st.target)
                       || st.pullers.size() >= max_donors(st.ctx->config.recovery))) {
          // Another image is being pulled already, or enough donors are: this one waits in the
          // queue in case they fail.
          send_on(self, sm.id, abort_transfer{"another donor's image is being pulled"});
          st.ctx->link->close_session(sm.id);
          st.queue.insert(st.queue.begin() + static_cast<ptrdiff_t>(st.next), std::move(d));
          return race(self);
        }
        if (first) {
          // Handshakes for other images are let go at once, freeing their upload slots; they
          // wait in the queue in case this image fails.
          size_t kept = 1;
          for (auto h = st.handshakes.begin(); h != st.handshakes.end();) {
            if (same_image(h->second.donor.manifest, d.manifest)
                && kept < max_donors(st.ctx->config.recovery)) {
              ++kept;
              ++h;
              continue;
            }
            send_on(self, h->first, abort_transfer{"another donor confirmed first"});
            st.ctx->link->close_session(h->first);
            st.queue.insert(st.queue.begin() + static_cast<ptrdiff_t>(st.next),
                            std::move(h->second.donor));
            h = st.handshakes.erase(h);
          }
        }
        begin_pull(self, sm.id, std::move(d), plan, compress);
        race(self);
      } else if constexpr (std::is_same_v<T, busy>) {
        st.busy_answer_ms = std::max<uint32_t>(1, m.retry_after_ms);
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
