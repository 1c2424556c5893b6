#include "actors/transfer.hpp"

#include <algorithm>
#include <chrono>

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

} // namespace transfer_steps

namespace {

using namespace transfer_steps;

std::string donor_name(const transfer_state& st) {
  return st.current ? st.current->source.fields.donor : std::string{"?"};
}

void send_frame(self_ptr self, const wire_message& m) {
  send_on(self, self->state.session, m);
}

} // namespace

/// `bad_block` marks a donor that sent data failing verification, which policies weigh more
/// heavily than a slow one.
void transfer_steps::drop_donor(self_ptr self, const std::string& reason, bool bad_block) {
  auto& st = self->state;
  record_failure(self, donor_name(st), reason, bad_block);
  if (st.session != 0) {
    send_frame(self, abort_transfer{reason});
    st.ctx->link->close_session(st.session);
  }
  st.session = 0;
  st.current.reset();
  st.outstanding.clear();
  st.verifying = 0;
  st.walk.reset();
  ++st.epoch;
  race(self);
}

namespace {

/// Blocks kept requested from the current donor: the configured window, or less on a slow link.
uint32_t current_window(const transfer_state& st) {
  return block_window(st.ctx->config.recovery.block_window,
                      st.link, st.target.fields.block_size);
}

/// How long the current donor may send nothing: the configured block timeout, or longer where
/// its link needs that to move a window of blocks.
std::chrono::milliseconds current_block_timeout(const transfer_state& st) {
  uint64_t window_bytes = uint64_t{current_window(st)} * st.target.fields.block_size;
  return block_timeout(std::chrono::milliseconds(st.ctx->config.recovery.block_timeout_ms),
                       st.link, window_bytes);
}

/// Pushes the current donor's deadline to a block timeout from now; one timer at a time
/// watches it, and finds out when it fires whether the deadline moved meanwhile.
void extend_deadline(self_ptr self) {
  auto& st = self->state;
  auto timeout = current_block_timeout(st);
  st.deadline = self->clock().now() + timeout;
  if (!st.deadline_timer) {
    st.deadline_timer = true;
    self->delayed_send(self, timeout, deadline_atom::value, st.epoch);
  }
}

/// The lowest rate, in bytes per second, a donor with blocks outstanding must send at: the
/// configured minimum, but at most a quarter of the nominal rate of the session's link.
uint64_t min_rate_bytes(const node_context& ctx, const link_properties& session_link) {
  uint64_t bits = uint64_t{ctx.config.limits.min_rate_kbps} * 1000;
  if (auto link = session_link.nominal_rate_bps; link != 0)
    bits = std::min(bits, link / 4);
  return bits / 8;
}

/// The current donor's deadline timer fired: drop it when nothing came for a block timeout,
/// or when over the last limits.idle_ms it sent below the minimum rate with blocks outstanding.
void check_deadline(self_ptr self, uint64_t epoch) {
  auto& st = self->state;
  if (epoch != st.epoch)
    return; // A timer of a donor dropped since.
  st.deadline_timer = false;
  if (!st.current)
    return;
  auto now = self->clock().now();
  if (now >= st.deadline)
    return drop_donor(self,
                      fmt::format("sent nothing for {} ms", current_block_timeout(st).count()));
  auto window = std::chrono::milliseconds(st.ctx->config.limits.idle_ms);
  if (now - st.rate_checked >= window) {
    auto got = st.received - st.received_at_check;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - st.rate_checked);
    auto floor = min_rate_bytes(*st.ctx, st.link) * static_cast<uint64_t>(ms.count()) / 1000;
    st.received_at_check = st.received;
    st.rate_checked = now;
    if (st.at == transfer_state::phase::pulling && !st.outstanding.empty() && got < floor)
      return drop_donor(self, fmt::format("sent {} bytes in {} ms, below the minimum of {} kbit/s",
                                          got, ms.count(),
                                          min_rate_bytes(*st.ctx, st.link) * 8 / 1000));
  }
  st.deadline_timer = true;
  self->delayed_send(self, st.deadline - now, deadline_atom::value, st.epoch);
}

/// Requests blocks until the window is full, batching consecutive indices into one request.
/// It waits until half the window is free (or nothing more is wanted), so that requests carry
/// many blocks and the donor answers each with one burst.
void fill_window(self_ptr self) {
  auto& st = self->state;
  auto window = current_window(st);
  auto in_flight = [&] { return st.outstanding.size() + st.verifying; };
  if (in_flight() > window / 2)
    return;
  while (in_flight() < window && st.wanted_pos < st.wanted.size()) {
    auto first = st.wanted[st.wanted_pos++];
    if (st.have[first] || st.outstanding.count(first))
      continue;
    uint32_t count = 1;
    while (in_flight() + count < window && st.wanted_pos < st.wanted.size()
           && st.wanted[st.wanted_pos] == first + count && !st.have[first + count]) {
      ++count;
      ++st.wanted_pos;
    }
    for (uint32_t k = 0; k < count; ++k)
      st.outstanding.insert(first + k);
    send_frame(self, block_request{first, count});
  }
}

void finish(self_ptr self) {
  auto& st = self->state;
  if (auto err = st.staging->sync())
    return drop_donor(self, describe(err));
  send_frame(self, done{});
  st.ctx->link->close_session(st.session);
  auto donor = donor_name(st);
  st.ctx->log->info("transfer", "image staged: {} blocks pulled from {}, {} already present",
                    st.pulled, donor, st.reused);
  std::chrono::duration<double> took = self->clock().now() - st.job_started;
  st.ctx->metrics->transfer_seconds.observe({st.ctx->target, "peers"}, took.count());
  if (auto err = st.ctx->store->write_journal({recovery_journal::phase::staged, st.target, donor}))
    st.ctx->log->error("transfer", "cannot record the staged image: {}", describe(err));
  st.session = 0;
  st.current.reset();
  ++st.epoch; // the deadline timer has nothing left to watch
  st.at = transfer_state::phase::idle;
  st.active = false;
  // The flasher opens the staging file itself, and removes it once the recovery succeeds.
  st.staging.reset();
  transfer_done d{st.target, donor, st.pulled, st.reused, st.staged, std::move(st.verified)};
  d.job = st.job;
  tell_coordinator(self, caf::make_message(std::move(d)));
}

void on_digests(self_ptr self, const leaves& l) {
  auto& st = self->state;
  auto n = st.target.fields.block_count();
  if (l.first != st.digests_received || l.digests.size() > n - l.first)
    return drop_donor(self, fmt::format("sent block digests {}..{} out of order", l.first,
                                        l.first + l.digests.size()));
  std::copy(l.digests.begin(), l.digests.end(), st.target.block_digests.begin() + l.first);
  st.digests_received += l.digests.size();
  if (st.digests_received < n)
    return;
  digests_complete(self);
}

} // namespace

void transfer_steps::digests_complete(self_ptr self) {
  auto& st = self->state;
  auto n = st.target.fields.block_count();
  if (auto tree = block_digest_tree(st.target); !tree)
    return drop_donor(self, "sent block digests that do not build the signed Merkle root");
  if (auto err = prepare_staging(self))
    return drop_donor(self, describe(err));
  if (st.have_count == n)
    return finish(self);
  st.at = transfer_state::phase::pulling;
  fill_window(self);
}

namespace {

/// A run of blocks from the donor: each must have been requested and be whole. The run goes to
/// a verifier; on_verified stages what verifies.
void on_blocks(self_ptr self, block_data& b) {
  auto& st = self->state;
  if (auto err = expand_run(st, b))
    return drop_donor(self, describe(err), true);
  const auto& m = st.target.fields;
  auto n = m.block_count();
  size_t at = 0;
  auto i = b.first;
  for (; at < b.bytes.size(); ++i) {
    if (st.at != transfer_state::phase::pulling || i >= n || !st.outstanding.count(i))
      return drop_donor(self, fmt::format("sent block {}, which was not requested", i));
    auto length = m.block_length(i);
    if (b.bytes.size() - at < length)
      return drop_donor(self, fmt::format("sent block {} cut short ({} of {} bytes)", i,
                                          b.bytes.size() - at, length));
    at += length;
  }
  for (auto k = b.first; k < i; ++k)
    st.outstanding.erase(k);
  st.ctx->metrics->bytes_pulled.add({st.ctx->target, "peers"}, b.bytes.size());
  st.verifying += i - b.first;
  verify_run run{
    st.epoch,
    b.first,
    std::move(b.bytes),
    m.hash,
    m.block_size,
    std::vector<digest>(st.target.block_digests.begin() + static_cast<ptrdiff_t>(b.first),
                        st.target.block_digests.begin() + static_cast<ptrdiff_t>(i)),
    st.verified};
  auto& verifier = st.verifiers[st.next_verifier++ % st.verifiers.size()];
  self->send(verifier, std::move(run));
  fill_window(self);
}

/// A run back from a verifier: its verified blocks are staged in order, and a bad one drops the
/// donor.
void on_verified(self_ptr self, run_verified& r) {
  auto& st = self->state;
  if (r.epoch != st.epoch)
    return;
  const auto& m = st.target.fields;
  auto n = m.block_count();
  auto before = st.have_count;
  st.verifying -= r.count;
  // The verified blocks are kept in memory (when they fit) and staged from there without
  // another copy; else staged from the run.
  auto offset = r.first * m.block_size;
  size_t length = 0;
  bool kept = st.verified != nullptr;
  for (auto i = r.first; i < r.first + r.good; ++i) {
    auto bytes = std::span{r.bytes}.subspan(length, m.block_length(i));
    kept = kept && st.verified->put(i, bytes);
    length += bytes.size();
  }
  if (length > 0) {
    auto err = kept ? st.staging->write_in_place(offset, st.verified->bytes(offset, length))
                    : st.staging->write(offset, std::span{r.bytes}.first(length));
    if (err)
      return drop_donor(self, describe(err));
  }
  for (auto i = r.first; i < r.first + r.good; ++i) {
    st.have[i] = true;
    st.staged[i] = true;
    ++st.have_count;
    ++st.pulled;
  }
  if (r.good < r.count)
    return drop_donor(self, fmt::format("block {} failed verification", r.first + r.good), true);
  // Every 64 blocks, and at least once a second: on a slow link 64 blocks take minutes, and
  // the coordinator takes a silence that long for a stall.
  auto now = self->clock().now();
  if (st.have_count / 64 != before / 64 || st.have_count == n
      || now - st.progress_reported >= std::chrono::seconds(1)) {
    st.progress_reported = now;
    transfer_progress p{donor_name(st), st.have_count, n};
    p.job = st.job;
    p.block_size = st.target.fields.block_size;
    tell_coordinator(self, caf::make_message(p));
  }
  if (st.have_count == n)
    return finish(self);
  fill_window(self);
}

void on_message(self_ptr self, session_message& sm) {
  auto& st = self->state;
  if (handshake_message(self, sm))
    return;
  if (sm.id != st.session || !st.current)
    return;
  extend_deadline(self);
  std::visit(
    [&](auto& m) {
      using T = std::decay_t<decltype(m)>;
      if constexpr (std::is_same_v<T, confirm>) {
        // A repeated confirm would restart the digests: a donor could keep a transfer alive
        // forever without progress.
        drop_donor(self, "sent a confirm outside the handshake");
      } else if constexpr (std::is_same_v<T, leaves>) {
        if (st.at != transfer_state::phase::receiving_digests)
          return drop_donor(self, "sent block digests before confirming");
        on_digests(self, m);
      } else if constexpr (std::is_same_v<T, nodes>) {
        if (st.at != transfer_state::phase::walking)
          return drop_donor(self, "sent tree nodes that were not asked for");
        on_nodes(self, m);
      } else if constexpr (std::is_same_v<T, block_data>) {
        st.received += m.bytes.size();
        on_blocks(self, m);
      } else if constexpr (std::is_same_v<T, busy>) {
        drop_donor(self, fmt::format("busy (retry after {} ms)", m.retry_after_ms));
      } else if constexpr (std::is_same_v<T, decline>) {
        drop_donor(self, "declined: " + m.reason);
      } else if constexpr (std::is_same_v<T, abort_transfer>) {
        drop_donor(self, "aborted: " + m.reason);
      } else if constexpr (std::is_same_v<T, refusal>) {
        drop_donor(self, "refused: " + m.reason);
      } else {
        drop_donor(self, fmt::format("sent an unexpected {}", kind_name(wire_message{m})));
      }
    },
    sm.msg);
}

} // namespace

namespace transfer_steps {

void begin_pull(self_ptr self, session_id id, candidate d) {
  auto& st = self->state;
  st.current = std::move(d);
  st.session = id;
  // Read once per donor: the window, deadlines and rate floor are sized from it on every frame.
  st.link = st.ctx->link->session_properties(id);
  ++st.epoch;
  st.deadline_timer = false;
  st.received = st.received_at_check = 0;
  st.rate_checked = self->clock().now();
  extend_deadline(self);
  const auto& link = st.link;
  if (st.have_count > 0 && st.staged_root == st.current->manifest.fields.merkle_root)
    st.ctx->log->info("transfer", "donor {} confirmed over {}; {} blocks held already are kept, {} to go",
                      donor_name(st), link.kind, st.have_count,
                      st.current->manifest.fields.block_count() - st.have_count);
  else
    st.ctx->log->info("transfer", "donor {} confirmed over {}", donor_name(st), link.kind);
  st.target = st.current->manifest;
  st.target.block_digests.assign(st.target.fields.block_count(), digest{});
  st.digests_received = 0;
  st.outstanding.clear();
  st.verifying = 0;
  st.at = transfer_state::phase::receiving_digests;
  donor_confirmed c{donor_name(st)};
  c.job = st.job;
  tell_coordinator(self, caf::make_message(c));
  start_digests(self);
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
    [=](session_opened_event& ev) { handshake_opened(self, ev.id); },
    [=](ready_memory& r) {
      auto& st = self->state;
      st.ready.reset();
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
      if (ev.id == self->state.session && self->state.current) {
        self->state.session = 0;
        drop_donor(self, "connection lost: " + ev.reason);
      }
    },
    [=](race_atom) {
      self->state.start_timer = false;
      race(self);
    },
    [=](handshake_atom, session_id id) { handshake_deadline(self, id); },
    [=](deadline_atom, uint64_t epoch) { check_deadline(self, epoch); },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
