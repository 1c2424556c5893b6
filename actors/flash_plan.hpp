#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actors/staging_file.hpp"
#include "hal/flash.hpp"
#include "messages/manifest.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

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
                                      const flash_job& job);

/// Copies the checked content of the blocks in `plan.from_flash` into the staging file and makes
/// it durable, before anything is erased: should the daemon die between erasing such a block's
/// sector and programming it, the resumed flash still finds a copy that verifies.
caf::error stage_blocks_from_flash(staging_file& staging, const flash_plan& plan, const manifest& m,
                                   uint32_t erase_size);

/// Calls `fn(offset, content, sectors_done)` for each piece of the plan's runs, in order: one
/// erase and one program, so that progress reported after each comes often enough to watch a
/// slow chip. Pieces end at multiples of 256 KiB (or of the erase block, when larger), so that a
/// piece never splits an erase block that a run covers whole. Stops at the first error `fn`
/// returns and returns it.
template <class Fn>
caf::error for_each_piece(const flash_plan& plan, const flash_geometry& geo, Fn&& fn) {
  uint64_t unit = geo.block_erase_size != 0
                    ? std::lcm(uint64_t{geo.erase_size}, uint64_t{geo.block_erase_size})
                    : geo.erase_size;
  uint64_t piece_sectors = std::max<uint64_t>(1, (256 << 10) / unit) * unit / geo.erase_size;
  for (const auto& run : plan.runs) {
    auto end = run.first_sector + run.sector_count;
    for (auto s = run.first_sector; s < end;) {
      auto next = std::min(end, (s / piece_sectors + 1) * piece_sectors);
      auto bytes =
        run.content.subspan((s - run.first_sector) * geo.erase_size, (next - s) * geo.erase_size);
      if (auto err = fn(s * geo.erase_size, bytes, next))
        return err;
      s = next;
    }
  }
  return caf::none;
}

} // namespace fwrescue
