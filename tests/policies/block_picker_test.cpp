#include <catch2/catch.hpp>

#include <vector>

#include "policies/block_picker.hpp"

using namespace fwrescue;

namespace {

block_set holding(uint64_t n, std::vector<uint64_t> blocks) {
  block_set s(n);
  for (auto i : blocks)
    s.insert(i);
  return s;
}

} // namespace

TEST_CASE("with every donor holding everything, blocks go in order from the node's own place") {
  std::vector<bool> have(10, false);
  std::vector<uint16_t> claims(10, 0);
  have[8] = true;
  claims[9] = 1; // asked of another donor already
  auto runs = pick_runs(have, claims, {}, {}, 7, 4, 1024);
  // 7, then 8 (held) and 9 (claimed) are skipped, wrapping to 0, 1, 2.
  CHECK(runs == std::vector<block_run>{{7, 1}, {0, 3}});
}

TEST_CASE("runs are cut at the largest request") {
  std::vector<bool> have(10, false);
  std::vector<uint16_t> claims(10, 0);
  CHECK(pick_runs(have, claims, {}, {}, 0, 5, 2)
        == std::vector<block_run>{{0, 2}, {2, 2}, {4, 1}});
}

TEST_CASE("the rarest blocks among the donors pulled from go first") {
  std::vector<bool> have(8, false);
  std::vector<uint16_t> claims(8, 0);
  // The asked donor holds everything; another holds 0..3, so 4..7 are rarer.
  auto other = holding(8, {0, 1, 2, 3});
  std::vector<block_holder> others{{&other, false}};
  CHECK(pick_runs(have, claims, {}, others, 0, 8, 1024) == std::vector<block_run>{{4, 4}});
}

TEST_CASE("a partial donor is asked only for what it holds") {
  std::vector<bool> have(8, false);
  std::vector<uint16_t> claims(8, 0);
  auto mine = holding(8, {1, 2, 6});
  CHECK(pick_runs(have, claims, {&mine, false}, {}, 0, 8, 1024)
        == std::vector<block_run>{{1, 2}, {6, 1}});
}

TEST_CASE("a console is asked only for blocks no peer pulled from holds") {
  std::vector<bool> have(8, false);
  std::vector<uint16_t> claims(8, 0);
  auto peer = holding(8, {0, 1, 2, 3, 4, 5});
  std::vector<block_holder> others{{&peer, false}};
  CHECK(pick_runs(have, claims, {nullptr, true}, others, 0, 8, 1024)
        == std::vector<block_run>{{6, 2}});
  // A peer holding the whole image leaves the console nothing.
  std::vector<block_holder> full{{nullptr, false}};
  CHECK(pick_runs(have, claims, {nullptr, true}, full, 0, 8, 1024).empty());
  // Other consoles do not count: two consoles share the blocks.
  std::vector<block_holder> console{{nullptr, true}};
  CHECK(pick_runs(have, claims, {nullptr, true}, console, 0, 3, 1024)
        == std::vector<block_run>{{0, 3}});
}
