#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include <sodium.h>

#include "image/blake2b_lanes.hpp"
#include "image/hash.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

/// libsodium's digest of 0x00 || u64le(index) || block, computed in one call here rather than
/// through leaf_digest, so a fault shared by both code paths cannot hide.
digest reference_leaf(uint64_t index, std::span<const uint8_t> block) {
  std::vector<uint8_t> message(9 + block.size());
  message[0] = 0x00;
  for (int i = 0; i < 8; ++i)
    message[1 + i] = static_cast<uint8_t>(index >> (8 * i));
  std::copy(block.begin(), block.end(), message.begin() + 9);
  digest out;
  crypto_generichash(out.data(), out.size(), message.data(), message.size(), nullptr, 0);
  return out;
}

} // namespace

TEST_CASE("leaf digests hashed side by side equal libsodium's, for every block size and count") {
  REQUIRE(sodium_init() >= 0);
  // Every kernel this CPU can run is checked, not only the one the daemon would pick, and the
  // default choice too (libsodium alone on a CPU without AVX2).
  auto widths = blake2b_lane_widths();
  widths.push_back(0);
  // Sizes around the 128-byte chunk edges (9 header bytes + 119 fill exactly one chunk), a
  // block of one byte, and the sizes images use.
  for (uint32_t block_size : {1u, 118u, 119u, 120u, 246u, 247u, 248u, 512u, 1000u, 4096u}) {
    // Counts below, at and past the lane width, so both the side-by-side groups and the
    // one-by-one remainder are exercised.
    for (size_t count : {size_t{1}, size_t{3}, size_t{8}, size_t{9}, size_t{17}}) {
      auto bytes = test::random_bytes(block_size * count, block_size * 31 + count);
      const uint64_t first = 0x0123456789abcdefULL - 5; // the index's high bytes matter too
      for (unsigned lanes : widths) {
        std::vector<digest> got(count);
        blake2b_leaf_digests(block_size, first, bytes, got, lanes);
        for (size_t k = 0; k < count; ++k) {
          INFO("lanes " << lanes << ", block size " << block_size << ", count " << count
                        << ", block " << k);
          REQUIRE(got[k] == reference_leaf(first + k, std::span{bytes}.subspan(k * block_size,
                                                                                block_size)));
        }
      }
    }
  }
}

TEST_CASE("a changed byte anywhere in a block changes that block's digest and no other") {
  REQUIRE(sodium_init() >= 0);
  const uint32_t block_size = 4096;
  const size_t count = 16;
  auto bytes = test::random_bytes(block_size * count, 7);
  std::vector<digest> before(count), after(count);
  blake2b_leaf_digests(block_size, 0, bytes, before);
  std::mt19937 rng{11};
  for (int trial = 0; trial < 64; ++trial) {
    size_t at = rng() % bytes.size();
    bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
    blake2b_leaf_digests(block_size, 0, bytes, after);
    for (size_t k = 0; k < count; ++k) {
      INFO("flipped byte " << at << ", block " << k);
      CHECK((after[k] != before[k]) == (k == at / block_size));
    }
    before = after; // the flip stays: the next trial starts from here
  }
}
