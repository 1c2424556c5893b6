// Pulling from the donors that confirmed: each is asked for runs as its window frees, and what
// it sends is verified and staged. Their deadlines and rates are watched in transfer_watch.cpp.
#include "actors/transfer.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

#include <fmt/format.h>

#include "actors/transfer_steps.hpp"
#include "common/error.hpp"
#include "image/hash.hpp"
#include "image/signing.hpp"
#include "policies/block_picker.hpp"
#include "transports/link_timing.hpp"

namespace fwrescue {

namespace transfer_steps {

namespace {

using puller = transfer_state::puller;
using clock = transfer_state::clock;

/// The most blocks one request asks for (the wire's bound).
constexpr uint32_t max_run = 1024;

} // namespace

uint32_t window_of(const transfer_state& st, const puller& p) {
  return block_window(st.ctx->config.recovery.block_window, p.link, st.target.fields.block_size);
}

namespace {

/// Bytes a second a donor has sent since it confirmed.
double rate_of(const puller& p, clock::time_point now) {
  std::chrono::duration<double> t = now - p.started;
  return t.count() > 0 ? static_cast<double>(p.received) / t.count() : 0.0;
}

block_holder holder_of(const puller& p) {
  return {p.holds ? &*p.holds : nullptr, p.donor.role == node_role::console};
}

std::string name_of(const puller& p) {
  return p.donor.source.fields.donor;
}

/// The donors that sent blocks, most first: the transfer's "donor" in logs and status.
std::string contributors(const transfer_state& st,
                         const std::vector<std::pair<std::string, uint64_t>>& ended) {
  std::map<std::string, uint64_t> by_name;
  for (const auto& [name, n] : ended)
    by_name[name] += n;
  for (const auto& [id, p] : st.pullers)
    by_name[name_of(p)] += p.pulled;
  std::vector<std::pair<std::string, uint64_t>> list(by_name.begin(), by_name.end());
  std::erase_if(list, [](const auto& e) { return e.second == 0; });
  std::stable_sort(list.begin(), list.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (list.empty())
    return st.pullers.empty() ? std::string{"?"} : name_of(st.pullers.begin()->second);
  std::string out = list.front().first;
  if (list.size() == 2)
    out += " and " + list[1].first;
  else if (list.size() > 2)
    out += fmt::format(" and {} others", list.size() - 1);
  return out;
}

/// When every block is either held or asked of another donor, a donor with nothing to do asks
/// for blocks still outstanding at others, slowest donor first: whichever answers first wins
/// and the other copy is dropped on arrival. A block is asked of two donors at most.
std::vector<block_run> endgame_runs(const transfer_state& st, session_id id, const puller& p,
                                    uint64_t need, clock::time_point now) {
  std::vector<block_run> out;
  if (!p.outstanding.empty() || p.verifying != 0)
    return out;
  std::vector<const puller*> slow;
  for (const auto& [other, q] : st.pullers)
    if (other != id && !q.outstanding.empty())
      slow.push_back(&q);
  std::sort(slow.begin(), slow.end(),
            [&](const puller* a, const puller* b) { return rate_of(*a, now) < rate_of(*b, now); });
  auto asked = holder_of(p);
  uint64_t taken = 0;
  for (const auto* q : slow)
    for (auto i : q->outstanding) {
      if (taken >= need)
        return out;
      if (st.have[i] || st.claims[i] >= 2 || !asked.has(i) || p.outstanding.count(i))
        continue;
      add_block(out, i, max_run);
      ++taken;
    }
  return out;
}

} // namespace

/// Asks donor `id` for blocks until its window is full. It waits until half the window is free
/// (or nothing more is wanted), so that requests carry many blocks and the donor answers each
/// with one burst.
void fill_window(self_ptr self, session_id id) {
  auto& st = self->state;
  auto found = st.pullers.find(id);
  if (found == st.pullers.end() || !found->second.ready
      || st.at != transfer_state::phase::pulling)
    return;
  auto& p = found->second;
  auto window = window_of(st, p);
  auto in_flight = p.outstanding.size() + p.verifying;
  if (in_flight > window / 2)
    return;
  auto need = window - in_flight;
  std::vector<block_holder> others;
  for (const auto& [other, q] : st.pullers)
    if (other != id && q.ready)
      others.push_back(holder_of(q));
  auto runs = pick_runs(st.have, st.claims, holder_of(p), others, st.start_block, need, max_run);
  auto now = self->clock().now();
  if (runs.empty())
    runs = endgame_runs(st, id, p, need / 2 + 1, now);
  if (runs.empty() && p.outstanding.empty() && p.verifying == 0
      && p.donor.role == node_role::console
      && std::any_of(st.pullers.begin(), st.pullers.end(), [](const auto& q) {
           return q.second.ready && q.second.donor.role != node_role::console && !q.second.holds;
         })) {
    // A peer holding the whole image serves the rest: the console's slot goes to someone else.
    st.ctx->log->info("transfer", "letting {} go: a peer holding the whole image serves the rest",
                      name_of(p));
    if (p.pulled > 0)
      st.ended.emplace_back(name_of(p), p.pulled);
    send_on(self, id, done{});
    st.ctx->link->close_session(id);
    st.pullers.erase(found);
    return;
  }
  for (const auto& r : runs) {
    for (uint32_t k = 0; k < r.count; ++k) {
      p.outstanding.insert(r.first + k);
      ++st.claims[r.first + k];
    }
    send_on(self, id, block_request{r.first, r.count});
  }
}

void fill_all(self_ptr self) {
  std::vector<session_id> ids;
  for (const auto& [id, p] : self->state.pullers)
    ids.push_back(id);
  for (auto id : ids)
    fill_window(self, id);
}

/// Asks the coordinator for fresh offers while fewer donors than recovery.max_donors are
/// pulled from and no candidate is left: nodes that started recovering the same image since
/// the request offer what they hold. At most once per discovery window, three times over.
void ask_for_more(self_ptr self) {
  auto& st = self->state;
  const auto& rc = st.ctx->config.recovery;
  if (!st.active || !st.digests_known
      || st.pullers.size() + st.handshakes.size() >= rc.max_donors)
    return;
  auto now = self->clock().now();
  auto every = std::chrono::milliseconds(std::max<uint32_t>(rc.discovery_window_ms, 100) * 3);
  if (st.more_asked != clock::time_point{} && now - st.more_asked < every)
    return;
  st.more_asked = now;
  tell_coordinator(self, caf::make_message(more_donors{st.job}));
}

namespace {

/// The image is whole: every donor is told and let go, and the coordinator gets it.
void finish(self_ptr self) {
  auto& st = self->state;
  if (auto err = st.staging->sync()) {
    if (st.pullers.empty())
      return;
    return drop_puller(self, st.pullers.begin()->first, describe(err));
  }
  auto donor = contributors(st, st.ended);
  for (auto& [id, p] : st.pullers) {
    send_on(self, id, done{});
    st.ctx->link->close_session(id);
  }
  st.pullers.clear();
  st.ctx->log->info("transfer", "image staged: {} blocks pulled from {}, {} already present",
                    st.pulled, donor, st.reused);
  std::chrono::duration<double> took = self->clock().now() - st.job_started;
  st.ctx->metrics->transfer_seconds.observe({st.ctx->target, "peers"}, took.count());
  if (auto err = st.ctx->store->write_journal({recovery_journal::phase::staged, st.target, donor}))
    st.ctx->log->error("transfer", "cannot record the staged image: {}", describe(err));
  ++st.epoch; // verifier results still under way have nothing left to go to
  st.at = transfer_state::phase::idle;
  st.active = false;
  // The flasher rewrites the flash: blocks found good there stop being served, the pulled ones
  // go on being served to peers from memory and the staging file until the flash checks good
  // and the donor serves it whole (or a later recovery replaces them).
  if (st.partial) {
    st.partial->hand_over();
    st.handed_over = st.partial;
    st.partial.reset();
  }
  // The flasher opens the staging file itself, and removes it once the recovery succeeds.
  st.staging.reset();
  transfer_done d{st.target, donor, st.pulled, st.reused, st.staged, std::move(st.verified)};
  d.job = st.job;
  tell_coordinator(self, caf::make_message(std::move(d)));
}

} // namespace

/// `bad_block` marks a donor that sent data failing verification, which policies weigh more
/// heavily than a slow one, and which is not taken up again in this job.
void drop_puller(self_ptr self, session_id id, const std::string& reason,
                                 bool bad_block, bool session_open) {
  auto& st = self->state;
  auto found = st.pullers.find(id);
  if (found == st.pullers.end())
    return;
  auto p = std::move(found->second);
  st.pullers.erase(found);
  record_failure(self, name_of(p), reason, bad_block);
  if (bad_block) {
    // Each costs its sender a session and a block's worth of work; still, the oldest go first.
    constexpr size_t max_liars = 256;
    if (st.liars.size() >= max_liars)
      st.liars.erase(st.liars.begin());
    st.liars.push_back(p.donor.source.fields.donor_key);
  }
  if (p.pulled > 0)
    st.ended.emplace_back(name_of(p), p.pulled);
  if (session_open) {
    send_on(self, id, abort_transfer{reason});
    st.ctx->link->close_session(id);
  }
  for (auto i : p.outstanding)
    if (i < st.claims.size() && st.claims[i] > 0)
      --st.claims[i];
  if (id == st.lead && !st.digests_known) {
    // The digests were coming through it: the donors waiting for them are let go as well (back
    // to the queue), and the next to confirm leads.
    st.lead = 0;
    st.walk.reset();
    for (auto& [other, q] : st.pullers) {
      send_on(self, other, abort_transfer{"the donor the digests came from was dropped"});
      st.ctx->link->close_session(other);
      st.queue.insert(st.queue.begin() + static_cast<ptrdiff_t>(st.next), std::move(q.donor));
    }
    st.pullers.clear();
    st.at = transfer_state::phase::idle;
  }
  race(self);
  fill_all(self);
}

void digests_complete(self_ptr self) {
  auto& st = self->state;
  auto n = st.target.fields.block_count();
  if (auto tree = block_digest_tree(st.target); !tree)
    return drop_puller(self, st.lead, "sent block digests that do not build the signed Merkle root");
  if (auto err = prepare_staging(self))
    return drop_puller(self, st.lead, describe(err));
  st.digests_known = true;
  st.lead = 0;
  st.claims.assign(n, 0);
  // Each node starts at its own place, the same on every attempt (a restart resumes where the
  // staging file stops, not at a new place).
  uint64_t spread = std::hash<std::string>{}(st.ctx->config.id);
  for (auto b : st.target.fields.merkle_root)
    spread = spread * 131 + b;
  st.start_block = n == 0 ? 0 : spread % n;
  if (st.have_count == n)
    return finish(self);
  st.at = transfer_state::phase::pulling;
  std::vector<session_id> other_image;
  for (auto& [id, p] : st.pullers) {
    if (same_image(p.donor.manifest, st.target))
      p.ready = true;
    else
      other_image.push_back(id);
  }
  for (auto id : other_image)
    drop_puller(self, id, "offers another image than the one being pulled");
  fill_all(self);
  race(self);
}

/// A run of blocks from donor `id`: each must have been asked of it and be whole. The run goes
/// to a verifier; on_verified stages what verifies.
void on_blocks(self_ptr self, session_id id, block_data& b) {
  auto& st = self->state;
  auto& p = st.pullers.at(id);
  if (auto err = expand_run(st, p, b))
    return drop_puller(self, id, describe(err), true);
  const auto& m = st.target.fields;
  auto n = m.block_count();
  size_t at = 0;
  auto i = b.first;
  for (; at < b.bytes.size(); ++i) {
    if (st.at != transfer_state::phase::pulling || i >= n || !p.outstanding.count(i))
      return drop_puller(self, id, fmt::format("sent block {}, which was not requested", i));
    auto length = m.block_length(i);
    if (b.bytes.size() - at < length)
      return drop_puller(self, id, fmt::format("sent block {} cut short ({} of {} bytes)", i,
                                               b.bytes.size() - at, length));
    at += length;
  }
  for (auto k = b.first; k < i; ++k)
    p.outstanding.erase(k);
  st.ctx->metrics->bytes_pulled.add({st.ctx->target, "peers"}, b.bytes.size());
  p.verifying += i - b.first;
  verify_run run{
    st.epoch,
    p.serial,
    b.first,
    std::move(b.bytes),
    m.hash,
    m.block_size,
    std::vector<digest>(st.target.block_digests.begin() + static_cast<ptrdiff_t>(b.first),
                        st.target.block_digests.begin() + static_cast<ptrdiff_t>(i)),
    st.verified};
  auto& verifier = st.verifiers[st.next_verifier++ % st.verifiers.size()];
  self->send(verifier, std::move(run));
  fill_window(self, id);
}

namespace {

/// Stages blocks [first, first + count) of a verified run, which starts at `r.first`, and says
/// where peers can read them from now on: the memory verified blocks are kept in, or else the
/// staging file, written through at once while they are served (a gathered write is not in the
/// file yet, and a peer served what is there would get other bytes).
caf::expected<partial_image::location> stage(transfer_state& st, const run_verified& r,
                                             uint64_t first, uint64_t count) {
  const auto& m = st.target.fields;
  auto offset = first * m.block_size;
  auto skip = (first - r.first) * m.block_size;
  size_t length = 0;
  bool kept = st.verified != nullptr;
  for (auto i = first; i < first + count; ++i) {
    auto bytes = std::span{r.bytes}.subspan(skip + length, m.block_length(i));
    kept = kept && st.verified->put(i, bytes);
    length += bytes.size();
  }
  if (kept) {
    if (auto err = st.staging->write_in_place(offset, st.verified->bytes(offset, length)))
      return err;
    return partial_image::location::memory;
  }
  if (auto err = st.staging->write(offset, std::span{r.bytes}.subspan(skip, length)))
    return err;
  if (st.partial)
    if (auto err = st.staging->flush())
      return err;
  return partial_image::location::staging_file;
}

} // namespace

/// A run back from a verifier: its verified blocks are staged, and a bad one drops the donor
/// that sent it. Blocks a faster donor delivered meanwhile are not staged twice.
void on_verified(self_ptr self, run_verified& r) {
  auto& st = self->state;
  if (r.epoch != st.epoch)
    return;
  const auto& m = st.target.fields;
  auto n = m.block_count();
  auto before = st.have_count;
  session_id source = 0;
  for (auto& [id, p] : st.pullers)
    if (p.serial == r.source) {
      source = id;
      p.verifying -= std::min(p.verifying, r.count);
    }
  for (auto i = r.first; i < r.first + r.count; ++i)
    if (st.claims[i] > 0)
      --st.claims[i];
  // Blocks that verified are good whoever sent them, even a donor dropped since.
  for (auto i = r.first; i < r.first + r.good;) {
    if (st.have[i]) {
      ++i;
      continue;
    }
    auto end = i;
    while (end < r.first + r.good && !st.have[end])
      ++end;
    auto where = stage(st, r, i, end - i);
    if (!where) {
      if (source != 0)
        return drop_puller(self, source, describe(where.error()));
      return;
    }
    for (auto k = i; k < end; ++k) {
      st.have[k] = true;
      st.staged[k] = true;
      if (st.partial)
        st.partial->add(k, *where);
    }
    st.have_count += end - i;
    st.pulled += end - i;
    if (auto p = st.pullers.find(source); p != st.pullers.end())
      p->second.pulled += end - i;
    i = end;
  }
  if (r.good < r.count && source != 0)
    return drop_puller(self, source, fmt::format("block {} failed verification", r.first + r.good),
                       true);
  // Every 64 blocks, and at least once a second: on a slow link 64 blocks take minutes, and
  // the coordinator takes a silence that long for a stall.
  auto now = self->clock().now();
  if (st.have_count / 64 != before / 64 || st.have_count == n
      || now - st.progress_reported >= std::chrono::seconds(1)) {
    st.progress_reported = now;
    transfer_progress p{contributors(st, st.ended), st.have_count, n};
    p.job = st.job;
    p.block_size = st.target.fields.block_size;
    tell_coordinator(self, caf::make_message(p));
  }
  if (st.have_count == n)
    return finish(self);
  if (source != 0)
    fill_window(self, source);
  else
    fill_all(self);
  ask_for_more(self);
}

void on_holdings(self_ptr self, session_id id, const holdings& h) {
  auto& st = self->state;
  auto& p = st.pullers.at(id);
  auto n = p.donor.manifest.fields.block_count();
  auto set = block_set::decode(h.blocks, n);
  if (!set)
    return drop_puller(self, id, "sent an impossible block set: " + describe(set.error()));
  p.holds = std::move(*set);
  if (p.holds->full())
    p.holds.reset();
  fill_window(self, id);
}

} // namespace transfer_steps

} // namespace fwrescue
