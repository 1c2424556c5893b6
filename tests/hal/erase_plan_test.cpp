#include <catch2/catch.hpp>

#include "hal/flash/erase_plan.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

constexpr uint32_t sector = 4096;
constexpr uint64_t per_block = 16;

/// A W25Q256-class chip: 4 KiB sectors at 45 ms, 64 KiB blocks at 150 ms, pages at 0.7 ms.
const flash_geometry w25q256{32 << 20, sector, 256, 65536, 45000, 150000, 700};

/// `count` sectors, none differing but those listed.
std::vector<bool> differing(size_t count, std::initializer_list<size_t> which) {
  std::vector<bool> out(count, false);
  for (auto s : which)
    out[s] = true;
  return out;
}

} // namespace

TEST_CASE("one differing sector of a block is erased alone") {
  auto wanted = test::random_bytes(per_block * sector, 1);
  auto d = differing(per_block, {5});
  CHECK(plan_erase_blocks(w25q256, 0, d, wanted) == d);
}

TEST_CASE("a block whose sectors all differ is erased whole") {
  auto wanted = test::random_bytes(per_block * sector, 2);
  std::vector<bool> all(per_block, true);
  CHECK(plan_erase_blocks(w25q256, 0, all, wanted) == all);
  CHECK(block_erase_cheaper(w25q256, 16, 256, 256));
}

TEST_CASE("a block is erased whole from the number of differing sectors where it costs less") {
  // Full pages: 5 sectors cost 5 x (45 + 16 x 0.7) = 281 ms against 150 + 256 x 0.7 = 329.2 ms
  // for the block; 6 sectors cost 337.2 ms.
  auto wanted = test::random_bytes(per_block * sector, 3);
  auto five = differing(per_block, {0, 3, 4, 9, 15});
  CHECK(plan_erase_blocks(w25q256, 0, five, wanted) == five);
  auto six = differing(per_block, {0, 3, 4, 9, 10, 15});
  CHECK(plan_erase_blocks(w25q256, 0, six, wanted) == std::vector<bool>(per_block, true));

  // Where the rest of the block is erased (0xff) it costs nothing to program: the erases alone
  // decide, 4 x 45 ms > 150 ms.
  std::vector<uint8_t> sparse(per_block * sector, 0xff);
  std::fill(sparse.begin(), sparse.begin() + 4 * sector, 0);
  CHECK(plan_erase_blocks(w25q256, 0, differing(per_block, {0, 1, 2}), sparse)
        == differing(per_block, {0, 1, 2}));
  CHECK(plan_erase_blocks(w25q256, 0, differing(per_block, {0, 1, 2, 3}), sparse)
        == std::vector<bool>(per_block, true));
  CHECK_FALSE(block_erase_may_pay(w25q256, 3));
  CHECK(block_erase_may_pay(w25q256, 4));
}

TEST_CASE("only blocks lying whole in the range are erased whole") {
  // Sectors 8..39: the block of 16..31 is whole in it; 0..15 and 32..47 are not.
  auto wanted = test::random_bytes(32 * sector, 4);
  auto d = differing(
    32, {0, 1, 2, 3, 4, 5, 7, /* block 16..31 */ 8, 9, 10, 11, 12, 13, 26, 27, 28, 29, 30, 31});
  auto plan = plan_erase_blocks(w25q256, 8, d, wanted);
  auto expect = d;
  std::fill(expect.begin() + 8, expect.begin() + 24, true);
  CHECK(plan == expect);
}

TEST_CASE("without a block erase or its times the plan is the differing sectors") {
  auto wanted = test::random_bytes(per_block * sector, 5);
  std::vector<bool> all(per_block, true);
  auto most = differing(per_block, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13});
  auto no_block = w25q256;
  no_block.block_erase_size = 0;
  CHECK(plan_erase_blocks(no_block, 0, most, wanted) == most);
  flash_geometry untimed{32 << 20, sector, 256, 65536};
  CHECK(plan_erase_blocks(untimed, 0, most, wanted) == most);
  CHECK_FALSE(block_erase_may_pay(untimed, 16));
  CHECK_FALSE(block_erase_cheaper(untimed, 16, 256, 256));
}

TEST_CASE("pages of all 0xff are not counted as programs") {
  std::vector<uint8_t> s(sector, 0xff);
  CHECK(pages_to_program(w25q256, s) == 0);
  s[256 * 3 + 7] = 0;
  s[256 * 9] = 0x7f;
  CHECK(pages_to_program(w25q256, s) == 2);
}
