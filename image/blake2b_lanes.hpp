#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "messages/manifest.hpp"

namespace fwrescue {

/// BLAKE2b-256 leaf digests of several blocks at once, one block per SIMD lane.
///
/// A leaf digest is H(0x00 || u64le(index) || block) (see leaf_digest). Leaves are independent
/// and, inside an image, equally long, so the same compression step can run on 4 or 8 of them
/// side by side in vector registers: each 64-bit lane carries one block's state. libsodium hashes
/// one message at a time; this gives the same digests, bit for bit, faster on a CPU with AVX2
/// (4 lanes) or AVX-512 (8 lanes); the tests compare every result with libsodium's. On other
/// CPUs every block goes through libsodium.
///
/// `bytes` holds blocks first_index, first_index + 1, … back to back, each `block_size` long;
/// `out` receives one digest per block and must be no longer than bytes.size() / block_size.
/// Nothing here is secret, so nothing needs to run in constant time.
///
/// `lanes` picks a kernel by width for tests (one of blake2b_lane_widths()); 0, the default,
/// takes the widest. Blocks left over after the last whole group are hashed one at a time.
void blake2b_leaf_digests(uint32_t block_size, uint64_t first_index,
                          std::span<const uint8_t> bytes, std::span<digest> out,
                          unsigned lanes = 0);

/// How many blocks the CPU this runs on hashes side by side: 8 with AVX-512, 4 with AVX2, else 1.
unsigned blake2b_lanes();

/// Every width the CPU this runs on supports, widest first (empty without AVX2).
std::vector<unsigned> blake2b_lane_widths();

} // namespace fwrescue
