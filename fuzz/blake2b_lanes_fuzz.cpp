// Differential fuzzer for the SIMD leaf hashing (image/blake2b_lanes.hpp) against libsodium.
//
// blake2b_leaf_digests hashes 8 (AVX-512) or 4 (AVX2) blocks side by side with its own
// BLAKE2b; every leaf digest of every image goes through it, so one wrong digest in some
// corner (a block length at a 128-byte chunk boundary, an index with high bits set, a group
// followed by a remainder) would make good blocks look bad or, worse, break the tree's
// binding. Each input picks a block size, a block count, a first index and contents; every
// kernel this CPU has, the path without a kernel, and leaf_digests (image/hash.hpp, which adds a
// short last block and threads) must all give libsodium's crypto_generichash of
// 0x00 || u64le(index) || block, bit for bit.

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>
#include <sodium.h>

#include "fuzz/fuzz_check.hpp"
#include "image/blake2b_lanes.hpp"
#include "image/hash.hpp"

namespace fwrescue::fuzz {
namespace {

/// Bounds the bytes one input hashes (five times over), so executions stay fast. 40 blocks
/// reach every kernel's groups and remainders and let leaf_digests split them between threads.
constexpr size_t max_bytes = 24 * 1024;
constexpr size_t max_blocks = 40;

/// The leaf digest straight from libsodium, written out here rather than taken from
/// image/hash.cpp, so the reference shares no code with what it checks.
digest reference_leaf(uint64_t index, const uint8_t* block, size_t length) {
  uint8_t header[9] = {0x00};
  for (int i = 0; i < 8; ++i)
    header[1 + i] = static_cast<uint8_t>(index >> (8 * i));
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, sizeof(digest));
  crypto_generichash_update(&state, header, sizeof header);
  crypto_generichash_update(&state, block, length);
  digest out;
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

/// Fills `bytes` past `from` from a xorshift stream, so a short input can still describe large
/// blocks with varied contents.
void fill(std::vector<uint8_t>& bytes, size_t from, uint64_t seed) {
  uint64_t x = seed | 1;
  for (size_t i = from; i < bytes.size(); ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    bytes[i] = static_cast<uint8_t>(x);
  }
}

} // namespace
} // namespace fwrescue::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!fwrescue::init_crypto())
    __builtin_trap();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fwrescue;
  using fuzz::check;
  FuzzedDataProvider in{data, size};
  // Mostly the power-of-two sizes manifests allow, but any size: the kernels take any.
  uint32_t block_size = in.ConsumeBool() ? 512u << in.ConsumeIntegralInRange(0, 3)
                                         : in.ConsumeIntegralInRange<uint32_t>(1, 1200);
  auto blocks = in.ConsumeIntegralInRange<size_t>(0, fuzz::max_blocks);
  blocks = std::min(blocks, fuzz::max_bytes / block_size);
  auto tail = in.ConsumeIntegralInRange<uint32_t>(0, block_size - 1);
  auto first_index = in.ConsumeIntegral<uint64_t>();
  auto threads = in.ConsumeIntegralInRange<unsigned>(1, 3);
  auto seed = in.ConsumeIntegral<uint64_t>();
  auto given = in.ConsumeRemainingBytes<uint8_t>();

  std::vector<uint8_t> bytes(blocks * block_size + tail);
  auto taken = std::min(given.size(), bytes.size());
  std::copy_n(given.begin(), taken, bytes.begin());
  fuzz::fill(bytes, taken, seed);

  std::vector<digest> expected(blocks + (tail > 0 ? 1 : 0));
  for (size_t k = 0; k < expected.size(); ++k) {
    auto length = std::min<size_t>(block_size, bytes.size() - k * block_size);
    expected[k] = fuzz::reference_leaf(first_index + k, bytes.data() + k * block_size, length);
  }

  std::span<const uint8_t> whole{bytes.data(), blocks * block_size};
  std::vector<digest> out(blocks);
  // Every kernel, then a width no kernel has: what a CPU without AVX2 runs, libsodium alone.
  // (The default, 0, is the widest kernel, checked already.)
  auto widths = blake2b_lane_widths();
  widths.push_back(1);
  for (auto lanes : widths) {
    std::fill(out.begin(), out.end(), digest{});
    blake2b_leaf_digests(block_size, first_index, whole, out, lanes);
    check(std::equal(out.begin(), out.end(), expected.begin()),
          "blake2b_leaf_digests equals libsodium");
  }

  std::vector<digest> all(expected.size());
  leaf_digests(hash_algorithm::blake2b_256, block_size, first_index, bytes, all, threads);
  check(all == expected, "leaf_digests equals libsodium");
  return 0;
}
