#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include <caf/error.hpp>

#include "messages/manifest.hpp"

namespace fwrescue {

/// Reads `out.size()` bytes at `offset` of some image-shaped storage (a flash, a staging file).
using image_reader = std::function<caf::error(uint64_t offset, std::span<uint8_t> out)>;

/// Marks in `have` (one flag per block of `m`) every block not marked yet that lies within the
/// first `source_size` bytes of `read` and whose bytes there match the block's digest in `m`;
/// returns how many it marked. Reads and hashes a megabyte at a time, on hash_threads() threads.
/// A chunk that cannot be read marks nothing: its blocks are simply fetched elsewhere.
uint64_t mark_present(const signed_manifest& m, std::vector<bool>& have, const image_reader& read,
                      uint64_t source_size);

} // namespace fwrescue
