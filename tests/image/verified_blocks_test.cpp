#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "image/verified_blocks.hpp"

using namespace fwrescue;

TEST_CASE("verified blocks hold exactly the blocks put, at their image offsets") {
  // 10 000 bytes in 4 KiB blocks: two whole blocks and a short last one of 1808 bytes.
  digest root{};
  root[0] = 7;
  auto memory = verified_blocks::make(root, 10000, 4096);
  REQUIRE(memory);
  auto& kept = **memory;
  CHECK(kept.root() == root);
  CHECK_FALSE(kept.holds(0));

  std::vector<uint8_t> whole(4096, 0xa5);
  std::vector<uint8_t> last(1808, 0x3c);
  CHECK(kept.put(1, whole));
  CHECK(kept.put(2, last));
  CHECK_FALSE(kept.holds(0));
  CHECK(kept.holds(1));
  CHECK(kept.holds(2));
  CHECK_FALSE(kept.holds(3)); // past the image
  auto one = kept.bytes(4096, 4096);
  CHECK(std::all_of(one.begin(), one.end(), [](uint8_t b) { return b == 0xa5; }));
  auto two = kept.bytes(8192, 1808);
  CHECK(std::all_of(two.begin(), two.end(), [](uint8_t b) { return b == 0x3c; }));
}

TEST_CASE("verified blocks refuse bytes that are not a whole block") {
  auto memory = verified_blocks::make(digest{}, 10000, 4096);
  REQUIRE(memory);
  auto& kept = **memory;
  CHECK_FALSE(kept.put(0, std::vector<uint8_t>(4095)));
  CHECK_FALSE(kept.put(2, std::vector<uint8_t>(4096))); // the last block is 1808 bytes
  CHECK_FALSE(kept.put(3, std::vector<uint8_t>(1)));    // no such block
  CHECK_FALSE(kept.holds(0));
  CHECK_FALSE(kept.holds(2));
}

TEST_CASE("verified blocks need an image to hold") {
  auto memory = verified_blocks::make(digest{}, 0, 4096);
  REQUIRE_FALSE(memory);
}

TEST_CASE("memory readied before the image is known is taken only for the same layout") {
  digest guess{};
  guess[0] = 1;
  digest root{};
  root[0] = 2;
  auto memory = verified_blocks::make(guess, 64 * 4096, 4096);
  REQUIRE(memory);
  auto& kept = **memory;
  // Readying runs beside put(); both leave the blocks' bytes as put.
  kept.prepare_in_background({{0, 20}, {40, 64}}, 2);
  std::vector<uint8_t> block(4096, 0x5a);
  SECTION("another layout is refused") {
    CHECK_FALSE(kept.adopt(root, 64 * 4096, 1024));
    CHECK_FALSE(kept.adopt(root, 63 * 4096, 4096));
    CHECK(kept.root() == guess);
  }
  SECTION("the same layout is taken, and then holds blocks as usual") {
    REQUIRE(kept.adopt(root, 64 * 4096, 4096));
    CHECK(kept.root() == root);
    CHECK(kept.put(5, block));
    CHECK(kept.holds(5));
    auto bytes = kept.bytes(5 * 4096, 4096);
    CHECK(std::equal(bytes.begin(), bytes.end(), block.begin()));
  }
  SECTION("memory already holding a block is not taken for another image") {
    CHECK(kept.put(50, block));
    CHECK_FALSE(kept.adopt(root, 64 * 4096, 4096));
  }
}
