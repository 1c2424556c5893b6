#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hal/flash.hpp"

namespace fwrescue {

/// Choosing between a chip's sector erase and its larger block erase, by the chip's own times
/// (flash_geometry's datasheet figures), as flashrom does: a block where most sectors differ is
/// cheaper to erase whole and reprogram than sector by sector. A chip without a block erase, or
/// whose times are unknown (0), is always written sector by sector.

/// Whether one block erase and the programs of the `block_pages` pages of the block that are
/// not all 0xff cost less time than `sectors` sector erases and `sector_pages` programs. A tie
/// keeps the sector erases, which touch less of the chip.
bool block_erase_cheaper(const flash_geometry& geo, uint64_t sectors, uint64_t sector_pages,
                         uint64_t block_pages);

/// Whether a block in which `sectors` sectors may differ can be cheaper to erase whole at all.
/// Its programs are never fewer than those of its differing sectors, so only when the block
/// erase costs less than their erases: a planner need not read the rest of any other block.
bool block_erase_may_pay(const flash_geometry& geo, uint64_t sectors);

/// The pages of `sector` (erase_size bytes from a sector's start) that are not all 0xff: those
/// a rewrite programs.
uint64_t pages_to_program(const flash_geometry& geo, std::span<const uint8_t> sector);

/// The sectors to rewrite in a range of whole sectors starting at sector `first_sector`:
/// `differs[i]` says whether sector first_sector + i differs from what it is to hold, and
/// `wanted` holds what every sector of the range is to hold (erase_size bytes each). Each
/// aligned block lying whole in the range is rewritten whole where block_erase_cheaper() says
/// so; elsewhere the result is `differs`.
std::vector<bool> plan_erase_blocks(const flash_geometry& geo, uint64_t first_sector,
                                    const std::vector<bool>& differs,
                                    std::span<const uint8_t> wanted);

} // namespace fwrescue
