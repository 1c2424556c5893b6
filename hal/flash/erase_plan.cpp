#include "hal/flash/erase_plan.hpp"

#include <algorithm>

namespace fwrescue {

namespace {

/// Sectors per block, or 0 when the planner must keep to sectors.
uint64_t sectors_per_block(const flash_geometry& geo) {
  if (geo.block_erase_size == 0 || geo.erase_size == 0 || geo.erase_us == 0
      || geo.block_erase_us == 0 || geo.block_erase_size % geo.erase_size != 0)
    return 0;
  return geo.block_erase_size / geo.erase_size;
}

} // namespace

bool block_erase_cheaper(const flash_geometry& geo, uint64_t sectors, uint64_t sector_pages,
                         uint64_t block_pages) {
  if (sectors_per_block(geo) == 0)
    return false;
  auto by_sectors = sectors * geo.erase_us + sector_pages * geo.program_us;
  auto by_block = geo.block_erase_us + block_pages * geo.program_us;
  return by_block < by_sectors;
}

bool block_erase_may_pay(const flash_geometry& geo, uint64_t sectors) {
  return sectors_per_block(geo) != 0 && geo.block_erase_us < sectors * geo.erase_us;
}

uint64_t pages_to_program(const flash_geometry& geo, std::span<const uint8_t> sector) {
  uint64_t pages = 0;
  for_each_page_to_program(geo.program_size, 0, sector, [&](uint64_t, auto) {
    ++pages;
    return caf::error{};
  });
  return pages;
}

std::vector<bool> plan_erase_blocks(const flash_geometry& geo, uint64_t first_sector,
                                    const std::vector<bool>& differs,
                                    std::span<const uint8_t> wanted) {
  auto rewrite = differs;
  auto per_block = sectors_per_block(geo);
  if (per_block == 0)
    return rewrite;
  auto end_sector = first_sector + differs.size();
  auto sector_bytes = [&](uint64_t s) {
    return wanted.subspan((s - first_sector) * geo.erase_size, geo.erase_size);
  };
  // Each aligned block lying whole in the range.
  for (auto b = (first_sector + per_block - 1) / per_block * per_block; b + per_block <= end_sector;
       b += per_block) {
    auto in_block = [&](uint64_t s) {
      return differs.begin() + static_cast<ptrdiff_t>(s - first_sector);
    };
    auto sectors = static_cast<uint64_t>(std::count(in_block(b), in_block(b + per_block), true));
    // Counting pages means reading the whole block's content: only where it may pay.
    if (!block_erase_may_pay(geo, sectors))
      continue;
    uint64_t sector_pages = 0;
    uint64_t block_pages = 0;
    for (auto s = b; s < b + per_block; ++s) {
      auto pages = pages_to_program(geo, sector_bytes(s));
      block_pages += pages;
      if (differs[s - first_sector])
        sector_pages += pages;
    }
    if (!block_erase_cheaper(geo, sectors, sector_pages, block_pages))
      continue;
    std::fill(rewrite.begin() + static_cast<ptrdiff_t>(b - first_sector),
              rewrite.begin() + static_cast<ptrdiff_t>(b - first_sector + per_block), true);
  }
  return rewrite;
}

} // namespace fwrescue
