#include "actors/transfer.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "common/error.hpp"
#include "image/hash.hpp"
#include "image/signing.hpp"

namespace fwrescue {

namespace {

using self_ptr = caf::stateful_actor<transfer_state>*;

void try_next(self_ptr self);

void tell_coordinator(self_ptr self, caf::message msg) {
  if (auto coord = find_role(self->system(), roles::coordinator))
    self->send(coord, std::move(msg));
}

std::string donor_name(const transfer_state& st) {
  return st.current ? st.current->source.fields.donor : std::string{"?"};
}

void send_frame(self_ptr self, const wire_message& m) {
  self->state.ctx->link->send_frame(self->state.session, encode(m));
}

/// Gives up on the current donor and moves on to the next one. `bad_block` marks a donor that
/// sent data failing verification, which policies weigh more heavily than a slow one.
void drop_donor(self_ptr self, const std::string& reason, bool bad_block = false) {
  auto& st = self->state;
  auto donor = donor_name(st);
  st.ctx->log->warn("transfer", "dropping donor {}: {}", donor, reason);
  tell_coordinator(self, caf::make_message(donor_dropped{donor, reason, bad_block}));
  st.failures.push_back(donor + ": " + reason);
  if (st.session != 0) {
    send_frame(self, abort_transfer{reason});
    st.ctx->link->close_session(st.session);
  }
  st.session = 0;
  st.current.reset();
  st.outstanding.clear();
  st.verifying = 0;
  ++st.epoch;
  try_next(self);
}

/// Requests blocks until the window is full, batching consecutive indices into one request.
/// It waits until half the window is free (or nothing more is wanted), so that requests carry
/// many blocks and the donor answers each with one burst.
void fill_window(self_ptr self) {
  auto& st = self->state;
  auto window = st.ctx->config.recovery.block_window;
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
  if (auto err = st.ctx->store->write_journal(
        {recovery_journal::phase::staged, st.target, donor, power_state::on}))
    st.ctx->log->error("transfer", "cannot record the staged image: {}", describe(err));
  st.session = 0;
  st.current.reset();
  st.at = transfer_state::phase::idle;
  // The flasher opens the staging file itself, and removes it once the recovery succeeds.
  st.staging.reset();
  tell_coordinator(self, caf::make_message(transfer_done{st.target, donor, st.pulled, st.reused,
                                                         st.staged, std::move(st.verified)}));
}

/// Marks as present every block not yet present and lying within the first `source_size` bytes
/// of `source` whose bytes there verify; reads and hashes a megabyte at a time (on
/// hash_threads() threads). Returns how many blocks it found. A chunk that cannot be read is
/// simply not reused.
template <class Source>
uint64_t reuse_from(transfer_state& st, Source&& source, uint64_t source_size) {
  const auto& m = st.target.fields;
  auto n = m.block_count();
  std::vector<bool> look(n);
  for (uint64_t i = 0; i < n; ++i)
    look[i] = !st.have[i] && i * m.block_size + m.block_length(i) <= source_size;
  uint64_t found = 0;
  auto per_chunk = std::max<uint64_t>(1, (1 << 20) / m.block_size);
  std::vector<uint8_t> bytes;
  std::vector<digest> digests(per_chunk);
  for (uint64_t first = 0; first < n; first += per_chunk) {
    auto end = std::min(n, first + per_chunk);
    while (end > first && !look[end - 1])
      --end;
    if (std::none_of(look.begin() + static_cast<ptrdiff_t>(first),
                     look.begin() + static_cast<ptrdiff_t>(end), [](bool b) { return b; }))
      continue;
    bytes.resize((end - 1 - first) * m.block_size + m.block_length(end - 1));
    if (source(first * m.block_size, std::span{bytes}))
      continue;
    leaf_digests(m.hash, m.block_size, first, bytes, std::span{digests}.first(end - first),
                 hash_threads());
    for (auto i = first; i < end; ++i) {
      if (!look[i] || digests[i - first] != st.target.block_digests[i])
        continue;
      st.have[i] = true;
      ++found;
    }
  }
  return found;
}

/// Once the digests are known: reuse what the staging file (when it belongs to the same image)
/// and the flash already hold, and record the transfer in the journal. Blocks found on the
/// flash stay there: they are not copied to the staging file, and the flasher leaves their
/// sectors alone.
///
/// When the job carries the monitor's check that started this recovery, made against this same
/// image, the blocks it found good are taken as present on the flash without reading them
/// again. Nothing is written on that trust: the flasher rewrites only sectors holding a pulled
/// block (checking every block of such a sector first), and its final check reads them all; a
/// block that changed since makes this attempt fail, and the next one scans the flash.
caf::error prepare_staging(self_ptr self) {
  auto& st = self->state;
  const auto& m = st.target.fields;
  auto n = m.block_count();
  if (st.staged_root != m.merkle_root || !st.staging) {
    auto staging = staging_file::open(st.ctx->store->staging_path(), m.image_size);
    if (!staging)
      return std::move(staging.error());
    st.staging = std::move(*staging);
    st.have.assign(n, false);
    st.pulled = 0;
    st.verified.reset();
    auto limit = uint64_t{st.ctx->config.recovery.verified_in_memory_mib} << 20;
    // Memory readied while offers were awaited is taken when it fits; else it is released here.
    auto ready = std::move(st.ready);
    if (m.image_size <= limit) {
      if (ready && ready->adopt(m.merkle_root, m.image_size, m.block_size)) {
        st.verified = std::move(ready);
      } else if (auto memory = verified_blocks::make(m.merkle_root, m.image_size, m.block_size)) {
        st.verified = std::move(*memory);
      } else {
        st.ctx->log->warn("transfer",
                          "not keeping verified blocks in memory ({}); the flasher will read "
                          "them back from the staging file and check them again",
                          describe(memory.error()));
      }
    }
    auto journal = st.ctx->store->journal();
    bool resuming = journal && *journal && (*journal)->target.fields.merkle_root == m.merkle_root;
    uint64_t from_staging = 0;
    if (resuming)
      from_staging = reuse_from(
        st, [&](uint64_t at, std::span<uint8_t> out) { return st.staging->read(at, out); },
        m.image_size);
    st.staged = st.have;
    const auto& known = st.flash_check;
    bool trusted = known.checked && known.root == m.merkle_root && known.block_count == n;
    uint64_t on_flash = 0;
    if (trusted) {
      std::vector<bool> bad(n, false);
      for (const auto& r : known.bad)
        for (auto i = r.first; i < std::min(r.end, n); ++i)
          bad[i] = true;
      for (uint64_t i = 0; i < n; ++i)
        if (!st.have[i] && !bad[i]) {
          st.have[i] = true;
          ++on_flash;
        }
    } else {
      on_flash = reuse_from(
        st, [&](uint64_t at, std::span<uint8_t> out) { return st.ctx->chip->read(at, out); },
        st.ctx->chip->geometry().size);
    }
    st.have_count = st.reused = from_staging + on_flash;
    st.staged_root = m.merkle_root;
    st.ctx->log->info("transfer",
                      "{} of {} blocks already present ({} staged before a restart, "
                      "{} on the flash{}); pulling {}",
                      st.have_count, n, from_staging, on_flash,
                      trusted ? " by the check that started this recovery" : "", n - st.have_count);
  }
  st.wanted.clear();
  for (uint64_t i = 0; i < n; ++i)
    if (!st.have[i])
      st.wanted.push_back(i);
  st.wanted_pos = 0;
  return st.ctx->store->write_journal(
    {recovery_journal::phase::transferring, st.target, donor_name(st), power_state::on});
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
  if (auto tree = block_digest_tree(st.target); !tree)
    return drop_donor(self, "sent block digests that do not build the signed Merkle root");
  if (auto err = prepare_staging(self))
    return drop_donor(self, describe(err));
  if (st.have_count == n)
    return finish(self);
  st.at = transfer_state::phase::pulling;
  fill_window(self);
}

/// A run of blocks from the donor: each must have been requested and be whole. The run goes to
/// a verifier; on_verified stages what verifies.
void on_blocks(self_ptr self, block_data& b) {
  auto& st = self->state;
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
  st.verifying += i - b.first;
  verify_run run{st.epoch, b.first, std::move(b.bytes), m.hash, m.block_size,
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
  if (st.have_count / 64 != before / 64 || st.have_count == n)
    tell_coordinator(self, caf::make_message(transfer_progress{donor_name(st), st.have_count, n}));
  if (st.have_count == n)
    return finish(self);
  fill_window(self);
}

void on_message(self_ptr self, session_message& sm) {
  auto& st = self->state;
  if (sm.id != st.session)
    return;
  ++st.activity;
  std::visit(
    [&](auto& m) {
      using T = std::decay_t<decltype(m)>;
      if constexpr (std::is_same_v<T, confirm>) {
        // Every frame counts as activity for the watchdog, and a confirm restarts the digests:
        // a repeated one would let a donor keep a transfer alive forever without progress.
        if (st.at != transfer_state::phase::confirming)
          return drop_donor(self, "sent a confirm outside the handshake");
        st.ctx->log->info("transfer", "donor {} confirmed; receiving block digests",
                          donor_name(st));
        st.target = st.current->manifest;
        st.target.block_digests.assign(st.target.fields.block_count(), digest{});
        st.digests_received = 0;
        st.at = transfer_state::phase::receiving_digests;
        tell_coordinator(self, caf::make_message(donor_confirmed{donor_name(st)}));
      } else if constexpr (std::is_same_v<T, leaves>) {
        if (st.at != transfer_state::phase::receiving_digests)
          return drop_donor(self, "sent block digests before confirming");
        on_digests(self, m);
      } else if constexpr (std::is_same_v<T, block_data>) {
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

void try_next(self_ptr self) {
  auto& st = self->state;
  if (st.next >= st.queue.size()) {
    st.at = transfer_state::phase::idle;
    std::string why;
    for (const auto& f : st.failures)
      why += (why.empty() ? "" : "; ") + f;
    tell_coordinator(self,
                     caf::make_message(transfer_failed{
                       why.empty() ? "no donor to pull from" : "every donor failed: " + why}));
    return;
  }
  st.current = st.queue[st.next++];
  // A new donor starts with a whole block timeout, whichever watchdog tick comes next (a later
  // attempt's job can start a second tick chain while the first one still runs).
  ++st.activity;
  const auto& addr = st.current->source.fields.session_address;
  st.ctx->log->info("transfer", "opening a session to {} at {}", st.current->source.fields.donor,
                    addr);
  st.session = st.ctx->link->open_session(addr);
  st.at = transfer_state::phase::connecting;
  if (auto router = find_role(self->system(), roles::router))
    self->send(router, claim_session{st.session});
}

void watchdog(self_ptr self, uint64_t seen) {
  auto& st = self->state;
  auto period = std::chrono::milliseconds(st.ctx->config.recovery.block_timeout_ms);
  if (st.at != transfer_state::phase::idle && st.activity == seen && st.current)
    drop_donor(self, fmt::format("sent nothing for {} ms", period.count()));
  if (st.at != transfer_state::phase::idle)
    self->delayed_send(self, period, timeout_atom::value, st.activity);
}

} // namespace

caf::behavior block_verifier::make_behavior() {
  return {
    [this](verify_run& r) {
      // The memory the run's blocks will be kept in gets its pages here, on a verifier's thread,
      // rather than by page faults on the transfer's when they are copied in.
      if (r.keep)
        r.keep->prepare(r.first, r.expected.size());
      std::vector<digest> got(r.expected.size());
      leaf_digests(r.alg, r.block_size, r.first, r.bytes, got, 1);
      uint64_t good = 0;
      while (good < got.size() && got[good] == r.expected[good])
        ++good;
      send(caf::actor_cast<caf::actor>(current_sender()),
           run_verified{r.epoch, r.first, std::move(r.bytes), good, got.size()});
    },
  };
}

caf::behavior transfer(caf::stateful_actor<transfer_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  // One verifier per core the hashing may use; linked, so they end with the transfer.
  for (unsigned k = 0; k < hash_threads(); ++k)
    self->state.verifiers.push_back(self->spawn<block_verifier, caf::linked>());
  return {
    [=](start_atom) {},
    [=](transfer_job& job) {
      auto& st = self->state;
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
      try_next(self);
      watchdog(self, st.activity - 1);
    },
    [=](session_opened_event& ev) {
      auto& st = self->state;
      if (ev.id != st.session)
        return;
      ++st.activity;
      accept_fields fields{st.request.request_id,
                           st.request.challenge,
                           st.ctx->config.id,
                           st.ctx->node_key->public_part(),
                           st.current->manifest.fields.merkle_root,
                           st.current->source.fields.donor_key};
      send_frame(self, make_accept(std::move(fields), *st.ctx->node_key));
      st.at = transfer_state::phase::confirming;
    },
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
      if (ev.id == self->state.session) {
        self->state.session = 0;
        drop_donor(self, "connection lost: " + ev.reason);
      }
    },
    [=](timeout_atom, uint64_t seen) { watchdog(self, seen); },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
