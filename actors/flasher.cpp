#include "actors/flasher.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "actors/boot_watch.hpp"
#include "actors/flash_check.hpp"
#include "actors/flash_plan.hpp"
#include "actors/staging_file.hpp"
#include "common/error.hpp"
#include "image/hash.hpp"
#include "image/signing.hpp"
#include "image/verified_blocks.hpp"

namespace fwrescue {

namespace {

caf::error fail(const std::string& what) {
  return make_error(errc::io_failure, what);
}

/// Whether quieting the host for `during` ("off", "reset" or "on") would change anything in
/// state `now`.
bool must_quiet(const std::string& during, power_state now) {
  if (during == "on" || now == power_state::off)
    return false;
  return during != "reset" || now != power_state::reset_held;
}

caf::error quiet_host(host_power& power, const std::string& during, power_state now) {
  if (!must_quiet(during, now))
    return caf::none;
  return during == "reset" ? power.hold_reset() : power.power_off();
}

/// Brings the host to run the image just written, from whatever state it is in: powered on,
/// released from reset, or restarted when it ran through the write.
caf::error reset_host(host_power& power) {
  auto now = power.state();
  if (!now)
    return now.error();
  switch (*now) {
    case power_state::off:
      return power.power_on();
    case power_state::reset_held:
      return power.release_reset();
    case power_state::on:
      return power.reset();
  }
  return caf::none;
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

/// Erases [offset, offset + want.size()) and programs `want` there, then reads it back;
/// returns whether it reads back as `want`.
caf::expected<bool> write_and_check(flash& chip, uint64_t offset, std::span<const uint8_t> want,
                                    std::vector<uint8_t>& scratch) {
  if (auto err = chip.rewrite(offset, want))
    return err;
  scratch.resize(want.size());
  if (auto err = chip.read(offset, scratch))
    return err;
  return std::equal(want.begin(), want.end(), scratch.begin());
}


/// Logs what the write cost the chip, when its backend counts operations (benchmarks compare
/// these with the fewest the damage needed).
void log_chip_ops(const node_context& ctx, const flash_geometry& geo,
                  const std::optional<flash_op_counts>& before,
                  const std::optional<flash_op_counts>& after) {
  if (!before || !after)
    return;
  auto ops = *after - *before;
  ctx.log->info("flasher",
                "chip operations: {} block erases, {} sector erases, {} page programs ({} ms of "
                "chip time by the datasheet figures)",
                ops.block_erases, ops.sector_erases, ops.page_programs, ops.chip_us(geo) / 1000);
}

/// Reads the image back and compares its tree with the target's.
caf::expected<block_report> read_back(flash& chip, write_check& check,
                                      const signed_manifest& target) {
  auto tree = check.finish(chip);
  if (!tree)
    return std::move(tree.error());
  return compare_blocks(*tree, target);
}

/// Gives each sector of the plan that holds a bad block and reads different from its planned
/// content a second write, read back at once. Returns how many sectors were written again. A bad
/// block outside the planned sectors cannot be mended by writing: then nothing is rewritten
/// (and the final check fails).
caf::expected<uint64_t> rewrite_differing(flash& chip, const flash_plan& plan,
                                          const block_report& blocks, const manifest& m) {
  auto erase_size = chip.geometry().erase_size;
  // The planned content of sector `s`, or an empty span when the plan does not write it.
  auto planned = [&](uint64_t s) -> std::span<const uint8_t> {
    auto run =
      std::upper_bound(plan.runs.begin(), plan.runs.end(), s,
                       [](uint64_t x, const flash_plan::run& r) { return x < r.first_sector; });
    if (run == plan.runs.begin())
      return {};
    --run;
    if (s >= run->first_sector + run->sector_count)
      return {};
    return run->content.subspan((s - run->first_sector) * erase_size, erase_size);
  };
  std::vector<uint64_t> suspects;
  for (const auto& r : blocks.bad) {
    auto from = r.first * m.block_size;
    auto to = (r.end - 1) * m.block_size + m.block_length(r.end - 1);
    for (auto s = from / erase_size; s * erase_size < to; ++s) {
      if (planned(s).empty())
        return uint64_t{0};
      if (suspects.empty() || suspects.back() != s)
        suspects.push_back(s);
    }
  }
  uint64_t rewritten = 0;
  std::vector<uint8_t> scratch(erase_size);
  for (auto s : suspects) {
    auto want = planned(s);
    if (auto err = chip.read(s * erase_size, scratch))
      return err;
    if (std::equal(want.begin(), want.end(), scratch.begin()))
      continue;
    auto ok = write_and_check(chip, s * erase_size, want, scratch);
    if (!ok)
      return ok.error();
    if (!*ok)
      return fail(fmt::format("flash: sector at {:#x} reads back different after two writes",
                              s * erase_size));
    ++rewritten;
  }
  return rewritten;
}

} // namespace

caf::expected<flash_done> flash_image(const node_context& ctx, const flash_job& job,
                                      staging_file& staging,
                                      const std::function<void(const flash_progress&)>& progress,
                                      bool* touched) {
  const auto& m = job.target.fields;
  // Negotiation already refused such an image; this is the last place before the chip, checked
  // before anything (the journal included) is written.
  if (m.component != ctx.config.flash.component)
    return fail(fmt::format("flash: the image is for component {}, this flash holds {}; nothing "
                            "written",
                            m.component, ctx.config.flash.component));
  auto& chip = *ctx.chip;
  auto geo = chip.geometry();
  if (m.image_size > geo.size)
    return fail(
      fmt::format("image of {} bytes does not fit the {}-byte flash", m.image_size, geo.size));
  auto now = ctx.power->state();
  if (!now)
    return now.error();
  if (auto err =
        ctx.store->write_journal({recovery_journal::phase::flashing, job.target, job.donor}))
    return err;

  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t) {
    return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t).count());
  };
  auto t = clock::now();
  auto plan = plan_writes(chip, staging, job);
  if (!plan)
    return plan.error();
  if (auto err = stage_blocks_from_flash(staging, *plan, m, geo.erase_size))
    return err;

  // Nothing that writes nothing touches the host or the chip's protection. Otherwise the state
  // to restore is recorded before the host is touched, once per recovery: a later attempt or a
  // restart finds it off because an earlier one turned it off.
  bool writes = !plan->runs.empty();
  const auto& during = ctx.config.host_power.during_flash;
  const auto& after = ctx.config.host_power.after_flash;
  if (writes && (must_quiet(during, *now) || after == "reset"))
    if (auto err = ctx.store->remember_host_before(*now))
      return err;
  if (writes) {
    if (touched)
      *touched = true;
    if (must_quiet(during, *now))
      ctx.log->info("flasher", "host {}: {} for the write (host_power.during_flash = \"{}\")",
                    to_string(*now), during == "reset" ? "holding it in reset" : "powering it off",
                    during);
    if (auto err = quiet_host(*ctx.power, during, *now))
      return err;
    if (auto err = chip.set_write_protect(false))
      return err;
  }
  auto sectors = (m.image_size + geo.erase_size - 1) / geo.erase_size;
  flash_done result{plan->sector_count, sectors, {}};
  result.plan_ms = ms_since(t);
  t = clock::now();
  // The final check hashes each piece's content as soon as it is written, while the next ones
  // are written.
  write_check check{m, hash_threads()};
  auto ops_before = chip.op_counts();
  // The chip is write-protected again once the check is done, and on every early return.
  struct protect_again {
    flash& chip;
    bool armed;
    ~protect_again() {
      if (armed)
        chip.set_write_protect(true);
    }
  } guard{chip, writes};
  auto err = for_each_piece(
    *plan, geo,
    [&](uint64_t offset, std::span<const uint8_t> bytes, uint64_t sectors_done) -> caf::error {
      if (auto err = chip.rewrite(offset, bytes))
        return err;
      check.written(offset, bytes);
      if (progress)
        progress({sectors_done, sectors, 0, geo.erase_size});
      return caf::none;
    });
  if (err)
    return err;
  result.write_ms = ms_since(t);
  t = clock::now();

  // The final check reads the whole image back once, after the last write: it is the read-back
  // of every sector written, and it catches a write that disturbed another sector too.
  auto blocks = read_back(chip, check, job.target);
  if (!blocks)
    return blocks.error();
  if (!blocks->ok()) {
    // Written sectors that read back different get a second write each, read back at once;
    // then the whole image is read and checked again, since a write may disturb another sector.
    auto rewritten = rewrite_differing(chip, *plan, *blocks, m);
    if (!rewritten)
      return rewritten.error();
    if (*rewritten > 0) {
      ctx.log->warn("flasher",
                    "{} sector(s) read back different after their first write and "
                    "were written again",
                    *rewritten);
      // The content is the same; only the read is new.
      blocks = read_back(chip, check, job.target);
      if (!blocks)
        return blocks.error();
    }
  }
  if (writes)
    chip.set_write_protect(true);
  if (writes)
    log_chip_ops(ctx, geo, ops_before, chip.op_counts());
  if (progress)
    progress({sectors, sectors, 0, geo.erase_size});
  result.check = flash_report_for(job.target, *blocks, "the image just written");
  result.check_ms = ms_since(t);
  if (!result.check.ok())
    return fail("flash does not verify after writing: " + result.check.detail);
  if (auto err = ctx.store->set_installed_manifest(job.target))
    return err;
  // Where boots are watched, the floor rises once the image has booted (the coordinator raises
  // it): an image that verifies but does not boot can then give way to the one before it.
  if (!watching_boots(ctx))
    if (auto err = ctx.store->raise_svn_floor(m.svn))
      return err;
  // The host comes back before the journal goes: should the daemon die in between, the resumed
  // recovery writes nothing and brings the host back from its record.
  auto before = ctx.store->host_before();
  if (!before)
    return before.error();
  if (*before) {
    auto offset = console_offset(ctx);
    auto was = ctx.power->state();
    auto err = after == "reset" ? reset_host(*ctx.power) : restore_host(*ctx.power, **before);
    if (err)
      return err;
    auto is = ctx.power->state();
    ctx.log->info("flasher", "host {} -> {} (host_power.after_flash = \"{}\"{})",
                  was ? to_string(*was) : "unknown", is ? to_string(*is) : "unknown", after,
                  after == "reset" && was && *was == power_state::on
                    ? ": reset to run the new image"
                    : "");
    // A host that now runs, and did not run before (or was restarted), boots the new image.
    if (is && *is == power_state::on && (!was || *was != power_state::on || after == "reset"))
      result.host_started = host_powered_on{"after flashing", offset};
    if (auto err = ctx.store->forget_host_before())
      return err;
  }
  if (auto err = ctx.store->clear_journal())
    return err;
  return result;
}

caf::behavior flasher(caf::stateful_actor<flasher_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  return {
    [=](flash_job& job) {
      const auto& ctx = *self->state.ctx;
      // Targets sharing the host take turns: one powers it off, writes and restores it before
      // the next looks at its state.
      std::unique_lock<std::mutex> host_turn;
      if (ctx.host_lock)
        host_turn = std::unique_lock<std::mutex>{*ctx.host_lock};
      // The coordinator is looked up for each report, so one restarted meanwhile still hears.
      auto tell = [&](auto msg) {
        if (auto coord = find_role(self->system(), roles::coordinator, *self->state.ctx))
          self->send(coord, std::move(msg));
        else
          ctx.log->error("flasher", "no coordinator to report to");
      };
      auto failed = [&](std::string reason, bool untouched) {
        flash_failed f{std::move(reason), job.job, untouched};
        tell(f);
      };
      if (self->state.hold)
        return failed("safe hold: flash writes are disabled", true);
      auto staging = staging_file::open(ctx.store->staging_path(), job.target.fields.image_size);
      if (!staging)
        return failed(describe(staging.error()), true);
      bool touched = false;
      auto result = flash_image(
        ctx, job, **staging,
        [&](flash_progress p) {
          p.job = job.job;
          tell(p);
        },
        &touched);
      if (result) {
        result->job = job.job;
        if (result->host_started)
          if (auto watcher = find_role(self->system(), roles::boot_watch, *self->state.ctx))
            self->send(watcher, *result->host_started);
        tell(*result);
      } else {
        failed(describe(result.error()), !touched);
      }
      // Only now is the staging file closed: after a success it is already removed, and closing
      // its last descriptor frees its page cache, which takes milliseconds for a large image.
    },
    [=](start_atom) {},
    [=](hold_atom) { self->state.hold = true; },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
