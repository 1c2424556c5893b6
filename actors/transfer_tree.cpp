// Learning the target's block digests without the donor's leaves: from the installed manifest
// when it has the target's root, else by walking the donor's Merkle tree top-down against a
// tree of our flash in the target's shape, so that d damaged blocks of n cost O(d log n)
// digests on the wire instead of n.

#include <algorithm>

#include <fmt/format.h>

#include "actors/transfer_steps.hpp"
#include "common/error.hpp"
#include "image/hash.hpp"

namespace fwrescue::transfer_steps {

namespace {

using digest_plan = transfer_state::digest_plan;

/// A tree of the flash in the shape of `m`: its first image_size bytes hashed in m's blocks,
/// read a megabyte at a time. A chunk that cannot be read gets zero digests, which match no
/// block, so its blocks are learnt from the donor and pulled.
merkle_tree flash_tree(const node_context& ctx, const manifest& m) {
  auto n = m.block_count();
  std::vector<digest> leaves(n);
  auto per_chunk = std::max<uint64_t>(1, (1 << 20) / m.block_size);
  std::vector<uint8_t> bytes;
  for (uint64_t first = 0; first < n; first += per_chunk) {
    auto end = std::min(n, first + per_chunk);
    bytes.resize((end - 1 - first) * m.block_size + m.block_length(end - 1));
    if (ctx.chip->read(first * m.block_size, bytes))
      continue;
    leaf_digests(m.hash, m.block_size, first, bytes, std::span{leaves}.subspan(first, end - first),
                 hash_threads());
  }
  return merkle_tree{m.hash, std::move(leaves)};
}

/// The walk knows every digest: the blocks where it differs from the flash are the ones to
/// pull, as if the monitor had checked the flash against the target.
void finish_walk(self_ptr self) {
  auto& st = self->state;
  const auto& m = st.target.fields;
  st.target.block_digests = st.walk->leaves();
  st.digests_received = m.block_count();
  flash_report known;
  known.checked = true;
  known.root = m.merkle_root;
  known.block_count = m.block_count();
  known.bad = st.walk->differing();
  uint64_t differing = 0;
  for (const auto& r : known.bad)
    differing += r.size();
  st.ctx->log->info("transfer",
                    "compared the flash with the donor's tree: {} of {} blocks differ, {} digests "
                    "received",
                    differing, m.block_count(), st.walk->digests_received());
  st.flash_check = std::move(known);
  st.walk.reset();
  digests_complete(self);
}

/// Asks for the nodes the walk needs next, or finishes it.
void advance_walk(self_ptr self) {
  auto& st = self->state;
  if (st.walk->done())
    return finish_walk(self);
  // Each answer is one frame: on a link with small frames, fewer nodes per request (a nodes
  // message carries under 128 bytes besides its digests).
  uint64_t per_request = wire_limits::max_nodes_per_message;
  auto* from = lead(st);
  if (!from)
    return;
  if (auto frame = from->link.max_frame; frame > 0)
    per_request =
      std::clamp<uint64_t>(frame > 128 ? (frame - 128) / sizeof(digest) : 1, 1, per_request);
  for (const auto& r : st.walk->requests(per_request))
    send_on(self, st.lead,
            node_request{static_cast<uint8_t>(r.level), r.first, static_cast<uint32_t>(r.count)});
}

} // namespace

transfer_state::digest_plan plan_digests(self_ptr self, const candidate& d) {
  auto& st = self->state;
  const auto& m = d.manifest.fields;
  auto installed = st.ctx->store->installed_manifest();
  if (installed && *installed && (*installed)->fields.merkle_root == m.merkle_root
      && (*installed)->block_digests.size() == m.block_count())
    return digest_plan::held;
  // A walk costs about 2 log2(n) digests and two small frames per separate damaged run, and
  // up to twice the leaves when nearly every block differs (docs/performance.md): past about
  // 5 % of scattered damage the leaves are cheaper. The monitor's check tells how the flash is
  // damaged: a flash it found bad in more than n/32 runs, or in more than half its blocks, is
  // compared through the leaves.
  const auto& check = st.flash_check;
  uint64_t bad = 0;
  for (const auto& r : check.bad)
    bad += r.size();
  if (check.checked && check.block_count > 0
      && (check.bad.size() * 32 > check.block_count || bad * 2 > check.block_count))
    return digest_plan::leaves;
  if (m.block_count() > 0 && st.ctx->chip->geometry().size >= m.image_size)
    return digest_plan::walk;
  return digest_plan::leaves;
}

bool wants_compression(self_ptr self, session_id id) {
  const auto& ctx = *self->state.ctx;
  auto below = uint64_t{ctx.config.recovery.compress_below_kbps} * 1000;
  auto rate = ctx.link->session_properties(id).nominal_rate_bps;
  return rate != 0 && rate < below;
}

void start_digests(self_ptr self) {
  auto& st = self->state;
  const auto& m = st.target.fields;
  auto* from = lead(st);
  if (!from)
    return;
  switch (from->plan) {
    case digest_plan::leaves:
      return; // they arrive as leaves frames
    case digest_plan::held: {
      auto installed = st.ctx->store->installed_manifest();
      if (!installed || !*installed || (*installed)->fields.merkle_root != m.merkle_root)
        return drop_puller(self, st.lead, "the installed manifest changed since the accept");
      st.target.block_digests = (*installed)->block_digests;
      st.digests_received = m.block_count();
      st.ctx->log->info("transfer", "block digests taken from the installed manifest");
      return digests_complete(self);
    }
    case digest_plan::walk:
      st.at = transfer_state::phase::walking;
      st.walk = std::make_unique<tree_walk>(flash_tree(*st.ctx, m), m.merkle_root);
      return advance_walk(self);
  }
}

void on_nodes(self_ptr self, const nodes& n) {
  auto& st = self->state;
  if (auto err = st.walk->take(n.level, n.first, n.digests))
    return drop_puller(self, st.lead, "sent " + describe(err), true);
  advance_walk(self);
}

} // namespace fwrescue::transfer_steps
