#include "actors/flasher.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "actors/boot_watch.hpp"
#include "actors/flash_check.hpp"
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

/// The image is planned in chunks of whole blocks and whole sectors, about a megabyte each.
uint64_t plan_chunk(uint32_t erase_size, uint32_t block_size) {
  uint64_t unit = std::lcm(uint64_t{erase_size}, uint64_t{block_size});
  return std::max<uint64_t>(1, (1 << 20) / unit) * unit;
}

/// What the flasher will write: the sectors that differ from the image, and their content as
/// it was verified, so that nothing read after the check is written.
struct flash_plan {
  /// Neighbouring sectors to rewrite and their content (erase_size bytes per sector): in
  /// `bytes`, or in the job's verified blocks when the run's blocks are all held there.
  struct run {
    uint64_t first_sector = 0;
    uint64_t sector_count = 0;
    std::span<const uint8_t> content;
  };
  /// In ascending order.
  std::vector<run> runs;
  uint64_t sector_count = 0;
  /// Blocks lying whole in a run whose content is the flash's own (checked): not in the staging
  /// file, yet erased with their sector.
  std::vector<uint64_t> from_flash;
  /// Content assembled from the staging file and the flash, for the runs that need it.
  std::vector<uint8_t> bytes;
};

/// Where the planned content of a block is taken from; `neither` names a block that verified in
/// no copy.
enum class block_source { flash, staging, memory, neither };

caf::error no_match(uint64_t block, block_source from) {
  switch (from) {
    case block_source::staging:
    case block_source::memory:
      return fail(fmt::format("staged block {} does not match the signed Merkle root; the flash "
                              "is untouched",
                              block));
    case block_source::flash:
      return fail(fmt::format("block {} on the flash no longer matches the signed Merkle root "
                              "(it changed since it was checked); the flash is untouched",
                              block));
    case block_source::neither:
      break;
  }
  return fail(fmt::format("block {} matches the signed Merkle root neither in the staging file "
                          "nor on the flash; the flash is untouched",
                          block));
}

/// Before anything is erased: which sectors must change, with every block they will hold
/// checked against the signed manifest's digests (nothing unverified is written).
///
/// Each block comes from the staging file when `job.staged` says it was staged, or else stays
/// what the flash holds; a sector holding no staged block is not even read. A staged block that
/// `job.verified` holds is taken from memory as the transfer verified it, and not checked again.
/// When `job.staged` is empty (a restart, from the journal) or does not fit the image, a block
/// comes from the staging file if its staged copy verifies, else from the flash if that
/// verifies, and if neither does nothing is written. The manifest must carry its block digests
/// (the transfer and the journal always keep them).
caf::expected<flash_plan> plan_writes(flash& chip, const staging_file& staging,
                                      const flash_job& job) {
  const auto& target = job.target;
  const auto& m = target.fields;
  auto geo = chip.geometry();
  auto n_blocks = m.block_count();
  auto span_end = (m.image_size + geo.erase_size - 1) / geo.erase_size * geo.erase_size;
  if (!block_digest_tree(target))
    return fail("the manifest's block digests do not build its signed Merkle root, so no block "
                "can be checked; the flash is untouched");
  bool known = job.staged.size() == n_blocks;
  auto staged_block = [&](uint64_t i) { return known ? bool{job.staged[i]} : true; };
  // Staged blocks verified in memory (known staged list only: a restart has no memory).
  const verified_blocks* memory =
    known && job.verified && job.verified->root() == m.merkle_root ? job.verified.get() : nullptr;
  auto source_of = [&](uint64_t i) {
    if (!staged_block(i))
      return block_source::flash;
    return memory && memory->holds(i) ? block_source::memory : block_source::staging;
  };
  flash_plan plan;
  // Reserved, not touched: only the pages of sectors that change are ever filled. Each chunk's
  // wanted content is assembled at the end of it, and only its changing sectors are kept. A run
  // in `bytes` is recorded by its offset there until planning ends.
  plan.bytes.reserve(span_end);
  std::vector<size_t> offset_in_bytes;
  auto chunk = plan_chunk(geo.erase_size, m.block_size);
  std::vector<uint8_t> have;
  std::vector<digest> digests;
  // Blocks [first, end) overlapping the bytes [from, to) of the image span.
  auto blocks_of = [&](uint64_t from, uint64_t to) {
    return std::pair{from / m.block_size,
                     std::min(n_blocks, (to + m.block_size - 1) / m.block_size)};
  };
  auto count_staged = [&](uint64_t from, uint64_t to) {
    auto [first, end] = blocks_of(from, to);
    return static_cast<uint64_t>(std::count_if(job.staged.begin() + static_cast<ptrdiff_t>(first),
                                               job.staged.begin() + static_cast<ptrdiff_t>(end),
                                               [](bool b) { return b; }));
  };
  // Plans the bytes [off, off + n), whole blocks and whole sectors.
  auto plan_range = [&](uint64_t off, size_t n) -> caf::error {
    auto [first, end] = blocks_of(off, off + n);
    auto in_image = static_cast<size_t>(std::min<uint64_t>(n, m.image_size - off));
    // Content held whole in memory is planned where it lies.
    bool in_memory = in_image == n;
    for (auto i = first; in_memory && i < end; ++i)
      in_memory = source_of(i) == block_source::memory;
    // A block in memory was pulled because the flash did not hold it, so when no block straddles
    // two sectors, every sector of such a range differs and the flash need not be read. (Had
    // the flash changed to match since, a sector is rewritten with the same bytes.)
    bool all_differ = in_memory && geo.erase_size % m.block_size == 0;
    if (!all_differ) {
      have.resize(n);
      if (auto err = chip.read(off, have))
        return err;
    }
    auto base = plan.bytes.size();
    std::span<uint8_t> want;
    auto block_at = [&](std::span<uint8_t> bytes, uint64_t i) {
      return bytes.subspan((i - first) * m.block_size, m.block_length(i));
    };
    if (!in_memory) {
      plan.bytes.resize(base + n);
      want = std::span{plan.bytes}.subspan(base, n);
    }
    auto wanted = in_memory ? memory->bytes(off, n) : std::span<const uint8_t>{want};
    // The wanted bytes: each run of blocks from where it comes (memory, staging file, or the
    // flash as it is), and past the image's end, the flash as it is.
    for (auto i = first; !in_memory && i < end;) {
      auto from = source_of(i);
      auto j = i + 1;
      while (j < end && source_of(j) == from)
        ++j;
      auto a = (i - first) * m.block_size;
      auto b = std::min<uint64_t>((j - first) * m.block_size, in_image);
      auto into = want.subspan(a, b - a);
      if (from == block_source::staging) {
        if (auto err = staging.read(off + a, into))
          return err;
      } else {
        auto src = from == block_source::memory ? memory->bytes(off + a, b - a)
                                                : std::span<const uint8_t>{have}.subspan(a, b - a);
        std::copy(src.begin(), src.end(), into.begin());
      }
      i = j;
    }
    if (!in_memory)
      std::copy(have.begin() + static_cast<ptrdiff_t>(in_image), have.end(),
                want.begin() + static_cast<ptrdiff_t>(in_image));
    std::vector<bool> flash_copy(end - first, false);
    for (auto i = first; known && i < end; ++i)
      flash_copy[i - first] = source_of(i) == block_source::flash;
    if (!known) {
      // Which copy of each block verifies: the staged one, else the flash's.
      digests.resize(end - first);
      leaf_digests(m.hash, m.block_size, first, want.first(in_image), digests, hash_threads());
      for (auto i = first; i < end; ++i) {
        if (digests[i - first] == target.block_digests[i])
          continue;
        auto from_flash = block_at(have, i);
        if (leaf_digest(m.hash, i, from_flash) != target.block_digests[i])
          return no_match(i, block_source::neither);
        std::copy(from_flash.begin(), from_flash.end(), block_at(want, i).begin());
        flash_copy[i - first] = true;
      }
    }
    // Runs of sectors that differ are kept (in `bytes`, moved down over the ones that do not);
    // the blocks each run holds are checked together.
    auto sector_differs = [&](size_t a) {
      return all_differ
             || !std::equal(wanted.begin() + static_cast<ptrdiff_t>(a),
                            wanted.begin() + static_cast<ptrdiff_t>(a + geo.erase_size),
                            have.begin() + static_cast<ptrdiff_t>(a));
    };
    size_t kept = 0;
    for (size_t at = 0; at < n;) {
      if (!sector_differs(at)) {
        at += geo.erase_size;
        continue;
      }
      auto run_end = at + geo.erase_size;
      while (run_end < n && sector_differs(run_end))
        run_end += geo.erase_size;
      if (known) {
        // Every block the run holds, except those verified in memory, checked in runs.
        auto b1 = std::min(n_blocks, (off + run_end + m.block_size - 1) / m.block_size);
        for (auto b0 = (off + at) / m.block_size; b0 < b1;) {
          if (source_of(b0) == block_source::memory) {
            ++b0;
            continue;
          }
          auto e = b0 + 1;
          while (e < b1 && source_of(e) != block_source::memory)
            ++e;
          digests.resize(e - b0);
          auto from = (b0 - first) * m.block_size;
          auto to = std::min<uint64_t>((e - first) * m.block_size, in_image);
          leaf_digests(m.hash, m.block_size, b0, wanted.subspan(from, to - from), digests,
                       hash_threads());
          for (auto i = b0; i < e; ++i)
            if (digests[i - b0] != target.block_digests[i])
              return no_match(i, source_of(i));
          b0 = e;
        }
      }
      for (auto i = (off + at + m.block_size - 1) / m.block_size;
           i < n_blocks && i * m.block_size + m.block_length(i) <= off + run_end; ++i)
        if (flash_copy[i - first])
          plan.from_flash.push_back(i);
      auto sectors = (run_end - at) / geo.erase_size;
      plan.runs.push_back({(off + at) / geo.erase_size, sectors, {}});
      plan.sector_count += sectors;
      if (in_memory) {
        plan.runs.back().content = wanted.subspan(at, run_end - at);
        offset_in_bytes.push_back(0);
      } else {
        if (kept != at)
          std::memmove(want.data() + kept, want.data() + at, run_end - at);
        offset_in_bytes.push_back(base + kept);
        kept += run_end - at;
      }
      at = run_end;
    }
    plan.bytes.resize(base + kept);
    return caf::none;
  };
  for (uint64_t off = 0; off < span_end; off += chunk) {
    auto n = std::min<uint64_t>(chunk, span_end - off);
    if (!known) {
      if (auto err = plan_range(off, n))
        return err;
      continue;
    }
    // Only sectors holding a staged block can change; runs of them are planned together.
    auto holds_staged = [&](uint64_t at) { return count_staged(at, at + geo.erase_size) > 0; };
    for (auto at = off; at < off + n;) {
      if (!holds_staged(at)) {
        at += geo.erase_size;
        continue;
      }
      auto run_end = at + geo.erase_size;
      while (run_end < off + n && holds_staged(run_end))
        run_end += geo.erase_size;
      if (auto err = plan_range(at, run_end - at))
        return err;
      at = run_end;
    }
  }
  for (size_t k = 0; k < plan.runs.size(); ++k)
    if (plan.runs[k].content.empty())
      plan.runs[k].content = std::span{plan.bytes}.subspan(
        offset_in_bytes[k], plan.runs[k].sector_count * geo.erase_size);
  return plan;
}

/// Copies the checked content of the blocks in `plan.from_flash` into the staging file and makes
/// it durable, before anything is erased: should the daemon die between erasing such a block's
/// sector and programming it, the resumed flash still finds a copy that verifies.
caf::error stage_blocks_from_flash(staging_file& staging, const flash_plan& plan, const manifest& m,
                                   uint32_t erase_size) {
  if (plan.from_flash.empty())
    return caf::none;
  size_t k = 0;
  for (auto i : plan.from_flash) {
    auto offset = i * m.block_size;
    while (offset >= (plan.runs[k].first_sector + plan.runs[k].sector_count) * erase_size)
      ++k;
    const auto& run = plan.runs[k];
    auto bytes = run.content.subspan(offset - run.first_sector * erase_size, m.block_length(i));
    if (auto err = staging.write(offset, bytes))
      return err;
  }
  return staging.sync();
}

/// Calls `fn(offset, content, sectors_done)` for each piece of the plan's runs, in order: up to
/// 256 KiB of a run, one erase and one program, so that progress reported after each comes often
/// enough to watch a slow chip. Stops at the first error `fn` returns and returns it.
template <class Fn>
caf::error for_each_piece(const flash_plan& plan, uint32_t erase_size, Fn&& fn) {
  auto max_piece = std::max<uint64_t>(1, (256 << 10) / erase_size);
  for (const auto& run : plan.runs)
    for (uint64_t k = 0; k < run.sector_count; k += max_piece) {
      auto count = std::min(max_piece, run.sector_count - k);
      auto bytes = run.content.subspan(k * erase_size, count * erase_size);
      if (auto err = fn((run.first_sector + k) * erase_size, bytes, run.first_sector + k + count))
        return err;
    }
  return caf::none;
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
    *plan, geo.erase_size,
    [&](uint64_t offset, std::span<const uint8_t> bytes, uint64_t sectors_done) -> caf::error {
      if (auto err = chip.rewrite(offset, bytes))
        return err;
      check.written(offset, bytes);
      if (progress)
        progress({sectors_done, sectors});
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
  if (progress)
    progress({sectors, sectors});
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
      // The coordinator is looked up for each report, so one restarted meanwhile still hears.
      auto tell = [&](auto msg) {
        if (auto coord = find_role(self->system(), roles::coordinator))
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
          if (auto watcher = find_role(self->system(), roles::boot_watch))
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
