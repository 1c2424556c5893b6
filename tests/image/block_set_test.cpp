#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "common/error.hpp"
#include "image/block_set.hpp"

using namespace fwrescue;

namespace {

block_set from_bits(const std::vector<int>& bits) {
  block_set s(bits.size());
  for (size_t i = 0; i < bits.size(); ++i)
    if (bits[i])
      s.insert(i);
  return s;
}

} // namespace

TEST_CASE("a block set's usual shapes take a few bytes whatever the image's size") {
  CHECK(block_set(1'000'000).encode(512) == std::vector<uint8_t>{0xc0, 0x84, 0x3d});
  CHECK(block_set(1'000'000, true).encode(512) == std::vector<uint8_t>{0x00, 0xc0, 0x84, 0x3d});
  auto s = block_set(1024);
  for (uint64_t i = 100; i < 300; ++i)
    s.insert(i);
  CHECK(s.count() == 200);
  CHECK(s.encode(512) == std::vector<uint8_t>{100, 0xc8, 0x01, 0xd4, 0x05});
}

TEST_CASE("a block set reads back as it was written") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    auto n = rng() % 3000;
    block_set s(n);
    auto density = rng() % 100;
    for (uint64_t i = 0; i < n; ++i)
      if (rng() % 100 < density)
        s.insert(i);
    auto bytes = s.encode(1'000'000);
    auto back = block_set::decode(bytes, n);
    REQUIRE(back);
    CHECK(*back == s);
  }
}

TEST_CASE("a block set too long for its room is cut to a true subset") {
  // Every other block held: 2 bytes a pair of runs, 1000 runs.
  std::vector<int> bits;
  for (int i = 0; i < 1000; ++i)
    bits.push_back(i % 2);
  auto s = from_bits(bits);
  auto bytes = s.encode(64);
  CHECK(bytes.size() <= 64);
  auto back = block_set::decode(bytes, 1000);
  REQUIRE(back);
  CHECK(back->count() > 0);
  CHECK(back->count() < s.count());
  for (uint64_t i = 0; i < 1000; ++i)
    if (back->contains(i))
      CHECK(s.contains(i));
}

TEST_CASE("a block set from a peer must cover the image exactly") {
  CHECK(block_set::decode(std::vector<uint8_t>{10}, 10));
  auto short_runs = block_set::decode(std::vector<uint8_t>{5, 4}, 10);
  REQUIRE_FALSE(short_runs);
  CHECK(describe(short_runs.error()).find("cover 9 of the image's 10 blocks") != std::string::npos);
  CHECK_FALSE(block_set::decode(std::vector<uint8_t>{5, 6}, 10)); // past the end
  CHECK_FALSE(block_set::decode(std::vector<uint8_t>{0, 0, 10}, 10)); // an empty run
  CHECK_FALSE(block_set::decode(std::vector<uint8_t>{0x80}, 10)); // cut short
  std::vector<uint8_t> huge(11, 0xff);
  huge.back() = 0x01;
  CHECK_FALSE(block_set::decode(huge, 10)); // past 64 bits
  CHECK_FALSE(block_set::decode(std::vector<uint8_t>{}, 10));
}

TEST_CASE("a range is held only when every block of it is") {
  auto s = from_bits({0, 1, 1, 1, 0});
  CHECK(s.contains(1, 3));
  CHECK_FALSE(s.contains(0, 2));
  CHECK_FALSE(s.contains(3, 5));
  CHECK_FALSE(s.contains(6, 0));
}
