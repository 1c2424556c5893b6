#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "image/block_set.hpp"

namespace fwrescue {

/// A run of blocks to ask one donor for.
struct block_run {
  uint64_t first = 0;
  uint32_t count = 0;
  bool operator==(const block_run&) const = default;
};

/// Adds block `i` to `runs`: to the last run when it follows it and that run is shorter than
/// `max_run`, else as a run of its own.
void add_block(std::vector<block_run>& runs, uint64_t i, uint32_t max_run);

/// A donor as the picker sees it: which blocks it holds (null: the whole image) and whether it
/// is a console.
struct block_holder {
  const block_set* holds = nullptr;
  bool console = false;

  bool has(uint64_t i) const {
    return holds == nullptr || holds->contains(i);
  }
};

/// What to ask donor `asked` for next, when it has room for `need` more blocks: blocks we do not
/// `have`, that no donor is already asked for (`claims` counts requests in flight per block),
/// and that it holds.
///
/// Rarest first: among those, the blocks the fewest of the donors pulled from hold (`others`
/// being the rest of them), so a block only one partial donor has arrives before that donor
/// goes, and blocks that many hold are left to whichever is free. Ties go in block order from
/// `start`, wrapping: each recipient starts at its own place in the image, so recipients that
/// pull from the same console at the same time ask it for different blocks, which they then
/// pass to each other.
///
/// A console is asked only for blocks no other donor pulled from holds: peers serve what they
/// can, and the console only what nobody else has.
///
/// Consecutive blocks become one run of at most `max_run`.
std::vector<block_run> pick_runs(const std::vector<bool>& have, const std::vector<uint16_t>& claims,
                                 const block_holder& asked, std::span<const block_holder> others,
                                 uint64_t start, uint64_t need, uint32_t max_run);

} // namespace fwrescue
