#include "actors/flasher.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "actors/flash_check.hpp"
#include "actors/staging_file.hpp"
#include "common/error.hpp"
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

/// Writes one sector when it differs from `want`; returns whether it wrote.
caf::expected<bool> write_sector(flash& chip, uint64_t offset, std::span<const uint8_t> want,
                                 std::vector<uint8_t>& scratch) {
  auto page = chip.geometry().program_size;
  scratch.resize(want.size());
  if (auto err = chip.read(offset, scratch))
    return err;
  if (std::equal(want.begin(), want.end(), scratch.begin()))
    return false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto err = chip.erase(offset, want.size()))
      return err;
    for (size_t p = 0; p < want.size(); p += page) {
      auto chunk = want.subspan(p, std::min<size_t>(page, want.size() - p));
      // An erased page already reads 0xff; programming it would change nothing.
      if (std::all_of(chunk.begin(), chunk.end(), [](uint8_t b) { return b == 0xff; }))
        continue;
      if (auto err = chip.program(offset + p, chunk))
        return err;
    }
    if (auto err = chip.read(offset, scratch))
      return err;
    if (std::equal(want.begin(), want.end(), scratch.begin()))
      return true;
  }
  return fail(fmt::format("flash: sector at {:#x} reads back different after two writes", offset));
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

  auto staged = hash_image_file(ctx.store->staging_path(), m.hash, m.block_size);
  if (!staged)
    return staged.error();
  if (staged->size != m.image_size || staged->tree.root() != m.merkle_root)
    return fail("staged image does not match the signed Merkle root; the flash is untouched");
  auto staging = staging_file::open(ctx.store->staging_path(), m.image_size);
  if (!staging)
    return staging.error();

  if (auto err = quiet_host(*ctx.power, ctx.config.host_power.during_flash, *before))
    return err;
  if (auto err = chip.set_write_protect(false))
    return err;
  auto sectors = (m.image_size + geo.erase_size - 1) / geo.erase_size;
  flash_done result{0, sectors};
  std::vector<uint8_t> want(geo.erase_size);
  std::vector<uint8_t> scratch;
  for (uint64_t s = 0; s < sectors; ++s) {
    auto offset = s * geo.erase_size;
    auto in_image = static_cast<size_t>(std::min<uint64_t>(geo.erase_size, m.image_size - offset));
    // Bytes of the last sector past the image keep what the flash holds.
    if (in_image < want.size())
      if (auto err = chip.read(offset, want))
        return err;
    if (auto err = (*staging)->read(offset, std::span{want}.first(in_image)))
      return err;
    auto wrote = write_sector(chip, offset, want, scratch);
    if (!wrote)
      return wrote.error();
    result.sectors_written += *wrote ? 1 : 0;
    if (progress && (s % 16 == 15 || s + 1 == sectors))
      progress({s + 1, sectors});
  }
  chip.set_write_protect(true);

  auto report = check_flash(chip, job.target);
  if (!report)
    return report.error();
  if (!report->ok())
    return fail(fmt::format("flash: {} blocks do not match after writing", report->bad_blocks()));
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
