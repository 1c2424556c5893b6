#include "actors/transfer.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "actors/transfer_steps.hpp"
#include "common/error.hpp"
#include "image/hash.hpp"
#include "image/signing.hpp"
#include "transports/link_timing.hpp"

namespace fwrescue {

namespace transfer_steps {

void tell_coordinator(self_ptr self, caf::message msg) {
  if (auto coord = find_role(self->system(), roles::coordinator, *self->state.ctx))
    self->send(coord, std::move(msg));
}

void send_on(self_ptr self, session_id id, const wire_message& m) {
  self->state.ctx->link->send_frame(id, encode(m));
}

void record_failure(self_ptr self, const std::string& donor, const std::string& reason,
                    bool bad_block) {
  auto& st = self->state;
  st.ctx->log->warn("transfer", "dropping donor {}: {}", donor, reason);
  if (auto hint = std::exchange(st.busy_answer_ms, 0); hint == 0)
    st.only_busy = false;
  else
    st.busy_hint_ms = st.busy_hint_ms == 0 ? hint : std::min(st.busy_hint_ms, hint);
  if (bad_block)
    st.ctx->metrics->blocks_rejected.add({st.ctx->target, donor});
  tell_coordinator(self, caf::make_message(donor_dropped{donor, reason, bad_block}));
  // The reasons end up in one status line: a job tried against many donors keeps the first few.
  constexpr size_t max_reasons = 16;
  if (st.failures.size() < max_reasons)
    st.failures.push_back(donor + ": " + reason);
  else if (st.failures.size() == max_reasons)
    st.failures.push_back("and more");
}

transfer_state::puller* lead(transfer_state& st) {
  auto i = st.lead == 0 ? st.pullers.end() : st.pullers.find(st.lead);
  return i == st.pullers.end() ? nullptr : &i->second;
}

} // namespace transfer_steps

namespace {

using namespace transfer_steps;
using puller = transfer_state::puller;

std::string name_of(const puller& p) {
  return p.donor.source.fields.donor;
}

void on_digests(self_ptr self, session_id id, puller& p, const leaves& l) {
  auto& st = self->state;
  auto n = st.target.fields.block_count();
  if (id != st.lead || st.digests_known) {
    // A donor confirmed while another was already sending the digests; it sends its own, which
    // are not needed. It may send the image's worth, no more.
    p.stray_leaves += l.digests.size();
    if (p.stray_leaves > n)
      drop_puller(self, id, "sent more block digests than the image has");
    return;
  }
  if (st.at != transfer_state::phase::receiving_digests)
    return drop_puller(self, id, "sent block digests before confirming");
  if (l.first != st.digests_received || l.digests.size() > n - l.first)
    return drop_puller(self, id,
                       fmt::format("sent block digests {}..{} out of order", l.first,
                                   l.first + l.digests.size()));
  std::copy(l.digests.begin(), l.digests.end(), st.target.block_digests.begin() + l.first);
  st.digests_received += l.digests.size();
  if (st.digests_received < n)
    return;
  digests_complete(self);
}

void on_message(self_ptr self, session_message& sm) {
  auto& st = self->state;
  if (handshake_message(self, sm))
    return;
  auto found = st.pullers.find(sm.id);
  if (found == st.pullers.end())
    return;
  auto id = sm.id;
  auto& p = found->second;
  extend_deadline(self, id, p);
  std::visit(
    [&](auto& m) {
      using T = std::decay_t<decltype(m)>;
      if constexpr (std::is_same_v<T, confirm>) {
        // A repeated confirm would restart the digests: a donor could keep a transfer alive
        // forever without progress.
        drop_puller(self, id, "sent a confirm outside the handshake");
      } else if constexpr (std::is_same_v<T, leaves>) {
        on_digests(self, id, p, m);
      } else if constexpr (std::is_same_v<T, nodes>) {
        if (st.at != transfer_state::phase::walking || id != st.lead)
          return drop_puller(self, id, "sent tree nodes that were not asked for");
        on_nodes(self, m);
      } else if constexpr (std::is_same_v<T, block_data>) {
        p.received += m.bytes.size();
        on_blocks(self, id, m);
      } else if constexpr (std::is_same_v<T, holdings>) {
        on_holdings(self, id, m);
      } else if constexpr (std::is_same_v<T, busy>) {
        self->state.busy_answer_ms = std::max<uint32_t>(1, m.retry_after_ms);
        drop_puller(self, id, fmt::format("busy (retry after {} ms)", m.retry_after_ms));
      } else if constexpr (std::is_same_v<T, decline>) {
        drop_puller(self, id, "declined: " + m.reason);
      } else if constexpr (std::is_same_v<T, abort_transfer>) {
        drop_puller(self, id, "aborted: " + m.reason);
      } else if constexpr (std::is_same_v<T, refusal>) {
        drop_puller(self, id, "refused: " + m.reason);
      } else {
        drop_puller(self, id, fmt::format("sent an unexpected {}", kind_name(wire_message{m})));
      }
    },
    sm.msg);
}

} // namespace

namespace transfer_steps {

void begin_pull(self_ptr self, session_id id, candidate d, transfer_state::digest_plan plan,
                bool compress) {
  auto& st = self->state;
  auto& p = st.pullers[id];
  p.donor = std::move(d);
  p.serial = ++st.next_serial;
  // Read once per donor: the window, deadlines and rate floor are sized from it on every frame.
  p.link = st.ctx->link->session_properties(id);
  p.plan = plan;
  p.compress = compress;
  p.started = p.rate_checked = self->clock().now();
  extend_deadline(self, id, p);
  const auto& m = p.donor.manifest.fields;
  if (const auto& holds = p.donor.source.fields.holds; !holds.empty()) {
    auto set = block_set::decode(holds, m.block_count());
    if (!set)
      return drop_puller(self, id, "offered an impossible block set: " + describe(set.error()));
    if (!set->full())
      p.holds = std::move(*set);
  }
  auto name = name_of(p);
  bool same = st.digests_known && same_image(st.target, p.donor.manifest);
  auto held = p.holds ? fmt::format(", holding {} of {} blocks", p.holds->count(), m.block_count())
                      : std::string{};
  if (st.have_count > 0 && st.staged_root == m.merkle_root)
    st.ctx->log->info("transfer", "donor {} confirmed over {}{}; {} blocks held already are kept, "
                                  "{} to go",
                      name, p.link.kind, held, st.have_count, m.block_count() - st.have_count);
  else
    st.ctx->log->info("transfer", "donor {} confirmed over {}{}", name, p.link.kind, held);
  if (same) {
    p.ready = true;
    if (st.at == transfer_state::phase::pulling)
      fill_window(self, id);
    return;
  }
  if (st.lead != 0)
    return; // It waits for the digests coming through the lead.
  // It leads: the digests of its image are learnt through it. Verifier results still under way
  // were checked against the previous image's digests: they are not this image's.
  st.lead = id;
  st.digests_known = false;
  ++st.epoch;
  st.claims.clear();
  st.target = p.donor.manifest;
  st.target.block_digests.assign(st.target.fields.block_count(), digest{});
  st.digests_received = 0;
  st.at = transfer_state::phase::receiving_digests;
  donor_confirmed c{name};
  c.job = st.job;
  tell_coordinator(self, caf::make_message(c));
  start_digests(self);
}

void withdraw_handed_over(self_ptr self) {
  auto& st = self->state;
  if (auto p = st.handed_over.lock()) {
    p->invalidate();
    if (auto donor = find_role(self->system(), roles::donor, *st.ctx))
      self->send(donor, partial_update{st.ctx->target_index, nullptr});
  }
  st.handed_over.reset();
}

void withdraw_partial(self_ptr self) {
  auto& st = self->state;
  withdraw_handed_over(self);
  if (!st.partial)
    return;
  st.partial->invalidate();
  st.partial.reset();
  if (auto donor = find_role(self->system(), roles::donor, *st.ctx))
    self->send(donor, partial_update{st.ctx->target_index, nullptr});
}

void publish_partial(self_ptr self) {
  auto& st = self->state;
  // An attempt after a failed one, of the same image: what peers are served goes on (their
  // offers and uploads stay good), and grows from here.
  if (st.partial && st.partial->valid()
      && st.partial->manifest().fields.merkle_root == st.target.fields.merkle_root
      && st.partial->memory() == st.verified)
    return;
  withdraw_partial(self);
  if (!st.ctx->config.donor.serve_installed || st.ctx->config.recovery.max_donors == 0)
    return;
  auto chip = st.ctx->chip;
  auto image = partial_image::open(
    st.target, st.ctx->store->staging_path(),
    [chip](uint64_t offset, std::span<uint8_t> out) { return chip->read(offset, out); }, st.have,
    st.staged, st.ctx->target_index, st.verified);
  if (!image) {
    st.ctx->log->warn("transfer", "not serving the blocks pulled so far: {}",
                      describe(image.error()));
    return;
  }
  st.partial = std::move(*image);
  if (auto donor = find_role(self->system(), roles::donor, *st.ctx))
    self->send(donor, partial_update{st.ctx->target_index, st.partial});
}

} // namespace transfer_steps

caf::behavior transfer(caf::stateful_actor<transfer_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  // One verifier per core the hashing may use; linked, so they end with the transfer.
  for (unsigned k = 0; k < hash_threads(); ++k)
    self->state.verifiers.push_back(self->spawn<block_verifier, caf::linked>());
  return {
    [=](start_atom) {},
    [=](transfer_job& job) { start_job(self, job); },
    [=](transfer_cancel& c) { cancel_job(self, c); },
    [=](more_candidates& m) { take_more(self, m); },
    [=](session_opened_event& ev) { handshake_opened(self, ev.id); },
    [=](ready_memory& r) {
      auto& st = self->state;
      st.ready.reset();
      // An unchecked report ends a recovery that failed: what it verified is served no more, and
      // its memory goes.
      if (!r.check.checked && !st.active) {
        withdraw_partial(self);
        st.verified.reset();
      }
      auto installed = st.ctx->store->installed_manifest();
      if (!r.check.checked || r.check.bad.empty() || !installed || !*installed)
        return;
      const auto& f = (*installed)->fields;
      auto limit = uint64_t{st.ctx->config.recovery.verified_in_memory_mib} << 20;
      if (f.merkle_root != r.check.root || f.image_size > limit)
        return;
      auto memory = verified_blocks::make(f.merkle_root, f.image_size, f.block_size);
      if (!memory)
        return; // the transfer tries again, and reports a failure, when it knows the image
      (*memory)->prepare_in_background(r.check.bad, hash_threads());
      st.ready = std::move(*memory);
    },
    [=](session_message& sm) { on_message(self, sm); },
    [=](run_verified& r) { on_verified(self, r); },
    [=](session_closed_event& ev) {
      if (handshake_closed(self, ev.id, ev.reason))
        return;
      if (self->state.pullers.count(ev.id))
        drop_puller(self, ev.id, "connection lost: " + ev.reason, false, false);
    },
    [=](race_atom) {
      self->state.start_timer = false;
      race(self);
    },
    [=](handshake_atom, session_id id) { handshake_deadline(self, id); },
    [=](deadline_atom, session_id id, uint64_t serial) { check_deadline(self, id, serial); },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
