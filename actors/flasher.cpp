#include "actors/flasher.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "actors/flash_check.hpp"
#include "actors/staging_file.hpp"
#include "common/error.hpp"
#include "image/hash.hpp"
#include "image/signing.hpp"

namespace fwrescue {

namespace {

caf::error fail(const std::string& what) {
  return make_error(errc::io_failure, what);
}

caf::error quiet_host(host_power& power, const std::string& during, power_state before) {
  if (before == power_state::off)
    return caf::none;
  if (during == "reset")
    return before == power_state::reset_held ? caf::none : power.hold_reset();
  return power.power_off();
}

caf::error restore_host(host_power& power, power_state before) {
  auto now = power.state();
  if (!now)
    return now.error();
  if (*now == before)
    return caf::none;
  switch (before) {
    case power_state::off:
      return power.power_off();
    case power_state::on:
      return *now == power_state::reset_held ? power.release_reset() : power.power_on();
    case power_state::reset_held:
      if (*now == power_state::off)
        if (auto err = power.power_on())
          return err;
      return power.hold_reset();
  }
  return caf::none;
}

/// The flash is read, compared and written in chunks of this many bytes (whole sectors).
uint64_t chunk_bytes(const flash_geometry& geo) {
  return std::max<uint64_t>(geo.erase_size, (1 << 20) / geo.erase_size * geo.erase_size);
}

/// Erases [offset, offset + want.size()) and programs `want` there, then reads it back;
/// returns whether it reads back as `want`.
caf::expected<bool> write_and_check(flash& chip, uint64_t offset, std::span<const uint8_t> want,
                                    std::vector<uint8_t>& scratch) {
  if (auto err = chip.erase(offset, want.size()))
    return err;
  if (auto err = chip.program_range(offset, want))
    return err;
  scratch.resize(want.size());
  if (auto err = chip.read(offset, scratch))
    return err;
  return std::equal(want.begin(), want.end(), scratch.begin());
}

/// Rewrites a run of whole sectors; a sector that does not read back right gets one more try.
caf::error write_run(flash& chip, uint64_t offset, std::span<const uint8_t> want,
                     std::vector<uint8_t>& scratch) {
  auto ok = write_and_check(chip, offset, want, scratch);
  if (!ok)
    return ok.error();
  if (*ok)
    return caf::none;
  auto sector = chip.geometry().erase_size;
  std::vector<uint8_t> one(sector);
  for (size_t at = 0; at < want.size(); at += sector) {
    auto part = want.subspan(at, sector);
    if (auto err = chip.read(offset + at, one))
      return err;
    if (std::equal(part.begin(), part.end(), one.begin()))
      continue;
    auto again = write_and_check(chip, offset + at, part, one);
    if (!again)
      return again.error();
    if (!*again)
      return fail(fmt::format("flash: sector at {:#x} reads back different after two writes",
                              offset + at));
  }
  return caf::none;
}

/// Whole sectors of the image as the flash should hold them: the staged bytes, and past the end
/// of the image (the rest of the last sector) whatever the flash holds now.
caf::error wanted_bytes(flash& chip, const staging_file& staging, uint64_t image_size,
                        uint64_t offset, std::span<uint8_t> want) {
  auto in_image = static_cast<size_t>(std::min<uint64_t>(want.size(), image_size - offset));
  if (in_image < want.size())
    if (auto err = chip.read(offset + in_image, want.subspan(in_image)))
      return err;
  return staging.read(offset, want.first(in_image));
}

/// Checks staged blocks [first, end) against the signed manifest's digests. `chunk` holds the
/// staged image from `chunk_offset`; blocks lying wholly inside it are hashed from it, on
/// hash_threads() threads, and any other is read from the staging file.
caf::error check_staged_blocks(const staging_file& staging, const signed_manifest& target,
                               uint64_t first, uint64_t end, uint64_t chunk_offset,
                               std::span<const uint8_t> chunk) {
  const auto& m = target.fields;
  std::vector<digest> got(end - first);
  std::vector<uint8_t> block;
  auto inside = [&](uint64_t i) {
    return i * m.block_size >= chunk_offset
           && i * m.block_size + m.block_length(i) <= chunk_offset + chunk.size();
  };
  auto from = first;
  while (from < end && !inside(from))
    ++from;
  auto to = from;
  while (to < end && inside(to))
    ++to;
  if (to > from) {
    auto bytes = chunk.subspan(from * m.block_size - chunk_offset,
                               (to - 1) * m.block_size + m.block_length(to - 1)
                                 - from * m.block_size);
    leaf_digests(m.hash, m.block_size, from, bytes, std::span{got}.subspan(from - first, to - from),
                 hash_threads());
  }
  for (auto i = first; i < end; ++i) {
    if (i < from || i >= to) {
      block.resize(m.block_length(i));
      if (auto err = staging.read(i * m.block_size, block))
        return err;
      got[i - first] = leaf_digest(m.hash, i, block);
    }
    if (got[i - first] != target.block_digests[i])
      return fail(fmt::format("staged block {} does not match the signed Merkle root; the flash "
                              "is untouched",
                              i));
  }
  return caf::none;
}

/// Before anything is erased: which sectors differ from the staged image, with the staged blocks
/// of each of them checked against the signed manifest (nothing unverified is written). Without
/// usable block digests the whole staged file is hashed against the root instead.
caf::expected<std::vector<bool>> plan_sectors(flash& chip, const staging_file& staging,
                                              const signed_manifest& target) {
  const auto& m = target.fields;
  auto geo = chip.geometry();
  auto sectors = (m.image_size + geo.erase_size - 1) / geo.erase_size;
  bool per_block = static_cast<bool>(block_digest_tree(target));
  if (!per_block) {
    auto staged = hash_image_file(staging.path(), m.hash, m.block_size, hash_threads());
    if (!staged)
      return staged.error();
    if (staged->size != m.image_size || staged->tree.root() != m.merkle_root)
      return fail("staged image does not match the signed Merkle root; the flash is untouched");
  }
  std::vector<bool> differs(sectors, false);
  auto chunk = chunk_bytes(geo);
  std::vector<uint8_t> want(chunk), have(chunk);
  for (uint64_t offset = 0; offset < sectors * geo.erase_size; offset += chunk) {
    auto n = static_cast<size_t>(std::min<uint64_t>(chunk, sectors * geo.erase_size - offset));
    auto w = std::span{want}.first(n);
    auto h = std::span{have}.first(n);
    if (auto err = chip.read(offset, h))
      return err;
    if (auto err = wanted_bytes(chip, staging, m.image_size, offset, w))
      return err;
    // The staged blocks of each run of differing sectors are checked together.
    auto block_of = [&](uint64_t byte) { return std::min(byte / m.block_size, m.block_count()); };
    for (size_t at = 0; at < n;) {
      auto s = (offset + at) / geo.erase_size;
      differs[s] = !std::equal(w.begin() + at, w.begin() + at + geo.erase_size, h.begin() + at);
      auto run_end = at + geo.erase_size;
      if (differs[s]) {
        while (run_end < n
               && !std::equal(w.begin() + run_end, w.begin() + run_end + geo.erase_size,
                              h.begin() + run_end)) {
          differs[(offset + run_end) / geo.erase_size] = true;
          run_end += geo.erase_size;
        }
        if (per_block)
          if (auto err = check_staged_blocks(staging, target, block_of(offset + at),
                                             block_of(offset + run_end + m.block_size - 1), offset,
                                             w))
            return err;
      }
      at = run_end;
    }
  }
  return differs;
}

} // namespace

caf::expected<flash_done> flash_image(const node_context& ctx, const flash_job& job,
                                      const std::function<void(const flash_progress&)>& progress) {
  const auto& m = job.target.fields;
  auto& chip = *ctx.chip;
  auto geo = chip.geometry();
  if (m.image_size > geo.size)
    return fail(fmt::format("image of {} bytes does not fit the {}-byte flash", m.image_size,
                            geo.size));
  auto before = ctx.power->state();
  if (!before)
    return before.error();
  // A journal already in "flashing" (a restart) keeps the power state recorded before the
  // first attempt: the host is off now because we turned it off.
  auto journal = ctx.store->journal();
  auto power_before = *before;
  if (journal && *journal && (*journal)->at == recovery_journal::phase::flashing
      && (*journal)->target.fields.merkle_root == m.merkle_root)
    power_before = (*journal)->power_before;
  if (auto err = ctx.store->write_journal(
        {recovery_journal::phase::flashing, job.target, job.donor, power_before}))
    return err;

  auto staging = staging_file::open(ctx.store->staging_path(), m.image_size);
  if (!staging)
    return staging.error();
  auto differs = plan_sectors(chip, **staging, job.target);
  if (!differs)
    return differs.error();

  if (auto err = quiet_host(*ctx.power, ctx.config.host_power.during_flash, *before))
    return err;
  if (auto err = chip.set_write_protect(false))
    return err;
  auto sectors = differs->size();
  flash_done result{0, sectors, {}};
  std::vector<uint8_t> want, scratch;
  // A run of neighbouring differing sectors, up to 256 KiB, is one erase and one program;
  // progress is reported after each, often enough to watch a slow chip.
  auto max_run = std::max<uint64_t>(1, (256 << 10) / geo.erase_size);
  for (uint64_t s = 0; s < sectors;) {
    if (!(*differs)[s]) {
      ++s;
      continue;
    }
    auto end = s;
    while (end < sectors && end - s < max_run && (*differs)[end])
      ++end;
    want.resize((end - s) * geo.erase_size);
    if (auto err = wanted_bytes(chip, **staging, m.image_size, s * geo.erase_size, want))
      return err;
    if (auto err = write_run(chip, s * geo.erase_size, want, scratch))
      return err;
    result.sectors_written += end - s;
    s = end;
    if (progress && s < sectors)
      progress({s, sectors});
  }
  if (progress)
    progress({sectors, sectors});
  chip.set_write_protect(true);

  // The final check reads the whole image back after the last write, so a write that disturbed
  // another sector is caught too.
  auto tree = hash_flash(chip, m.image_size, m.hash, m.block_size, hash_threads());
  if (!tree)
    return tree.error();
  result.check = flash_report_for(job.target, compare_blocks(*tree, job.target));
  if (!result.check.ok())
    return fail("flash does not verify after writing: " + result.check.detail);
  if (auto err = ctx.store->set_installed_manifest(job.target))
    return err;
  if (auto err = ctx.store->raise_svn_floor(m.svn))
    return err;
  if (auto err = ctx.store->clear_journal())
    return err;
  if (auto err = restore_host(*ctx.power, power_before))
    return err;
  return result;
}

caf::behavior flasher(caf::stateful_actor<flasher_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  return {
    [=](flash_job& job) {
      const auto& ctx = *self->state.ctx;
      auto coord = find_role(self->system(), roles::coordinator);
      if (self->state.hold) {
        if (coord)
          self->send(coord, flash_failed{"safe hold: flash writes are disabled"});
        return;
      }
      auto result = flash_image(ctx, job, [&](const flash_progress& p) {
        if (coord)
          self->send(coord, p);
      });
      if (!coord)
        return;
      if (result)
        self->send(coord, *result);
      else
        self->send(coord, flash_failed{describe(result.error())});
    },
    [=](hold_atom) { self->state.hold = true; },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
