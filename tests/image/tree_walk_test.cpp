#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <set>

#include "common/error.hpp"
#include "image/tree_walk.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

constexpr auto alg = hash_algorithm::blake2b_256;

/// `n` distinct leaf digests drawn from `seed`.
std::vector<digest> random_leaves(uint64_t n, uint64_t seed) {
  auto bytes = test::random_bytes(n * sizeof(digest), seed);
  std::vector<digest> out(n);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

/// `leaves` with the ones at `changed` altered.
std::vector<digest> altered(std::vector<digest> leaves, const std::set<uint64_t>& changed) {
  for (auto i : changed)
    leaves[i][0] ^= 0x5a;
  return leaves;
}

/// Plays an honest donor holding `theirs` until the walk is done; returns the digests sent.
uint64_t walk_honestly(tree_walk& walk, const merkle_tree& theirs, uint64_t max_count = 16384) {
  uint64_t sent = 0;
  while (!walk.done()) {
    auto asked = walk.requests(max_count);
    REQUIRE_FALSE(asked.empty());
    for (const auto& r : asked) {
      REQUIRE(r.count <= max_count);
      auto level = theirs.level(r.level);
      REQUIRE(r.first + r.count <= level.size());
      auto err = walk.take(r.level, r.first, level.subspan(r.first, r.count));
      REQUIRE_FALSE(err);
      sent += r.count;
    }
  }
  return sent;
}

std::vector<leaf_range> ranges_of(const std::set<uint64_t>& indices) {
  std::vector<leaf_range> out;
  for (auto i : indices) {
    if (!out.empty() && out.back().end == i)
      out.back().end = i + 1;
    else
      out.push_back({i, i + 1});
  }
  return out;
}

} // namespace

TEST_CASE("a flash that matches the signed root costs no digest") {
  auto leaves = random_leaves(8192, 1);
  merkle_tree theirs{alg, leaves};
  tree_walk walk{merkle_tree{alg, leaves}, theirs.root()};
  CHECK(walk.done());
  CHECK(walk.requests(16384).empty());
  CHECK(walk.digests_received() == 0);
  CHECK(walk.differing().empty());
  CHECK(walk.leaves() == leaves);
}

TEST_CASE("one differing block of 8192 costs two digests per level below the root") {
  auto leaves = random_leaves(8192, 2);
  merkle_tree theirs{alg, leaves};
  for (uint64_t bad : {0, 4321, 8191}) {
    INFO("block " << bad);
    tree_walk walk{merkle_tree{alg, altered(leaves, {bad})}, theirs.root()};
    auto sent = walk_honestly(walk, theirs);
    // 13 levels below the root, a pair at each: 2 log2(8192) digests, not 8192.
    CHECK(sent == 26);
    CHECK(walk.digests_received() == 26);
    CHECK(walk.differing() == std::vector<leaf_range>{{bad, bad + 1}});
    CHECK(walk.leaves() == leaves);
  }
}

TEST_CASE("d scattered blocks cost O(d log n) digests and are all found") {
  std::mt19937_64 gen{3};
  for (uint64_t n : {8192, 8191, 1000, 3}) {
    auto leaves = random_leaves(n, n);
    merkle_tree theirs{alg, leaves};
    auto height = theirs.height();
    for (uint64_t d : {uint64_t{1}, uint64_t{2}, std::max<uint64_t>(1, n / 100), n / 2, n}) {
      INFO(d << " of " << n << " blocks differ");
      std::set<uint64_t> bad;
      while (bad.size() < d)
        bad.insert(std::uniform_int_distribution<uint64_t>{0, n - 1}(gen));
      tree_walk walk{merkle_tree{alg, altered(leaves, bad)}, theirs.root()};
      // Small requests, so ranges of a level are split across several.
      auto sent = walk_honestly(walk, theirs, 7);
      CHECK(walk.differing() == ranges_of(bad));
      CHECK(walk.leaves() == leaves);
      // A pair per differing node and level, and at most one pair between two of them.
      CHECK(sent <= 4 * d * (height - 1));
      // Never more than every node below the root once.
      CHECK(sent <= 2 * n);
    }
  }
}

TEST_CASE("blocks close together are asked for in one range, and the pair between checked") {
  auto leaves = random_leaves(64, 7);
  merkle_tree theirs{alg, leaves};
  // Blocks 1 and 5 differ: at the leaves, pairs 0..1 and 4..5 are wanted, one pair apart.
  tree_walk walk{merkle_tree{alg, altered(leaves, {1, 5})}, theirs.root()};
  while (walk.level() > 0)
    for (const auto& r : walk.requests(16384))
      REQUIRE_FALSE(walk.take(r.level, r.first, theirs.level(r.level).subspan(r.first, r.count)));
  auto asked = walk.requests(16384);
  REQUIRE(asked == std::vector<node_range>{{0, 0, 6}});
  SECTION("honest") {
    REQUIRE_FALSE(walk.take(0, 0, theirs.level(0).first(6)));
    CHECK(walk.done());
    CHECK(walk.differing() == std::vector<leaf_range>{{1, 2}, {5, 6}});
    CHECK(walk.leaves() == leaves);
  }
  SECTION("the pair in between forged") {
    auto forged = std::vector<digest>(leaves.begin(), leaves.begin() + 6);
    forged[3][0] ^= 1;
    CHECK(describe(walk.take(0, 0, forged))
          == "tree nodes 2 and 3 of level 0 do not hash to their parent");
  }
}

TEST_CASE("the last block of an odd level is compared through its parent, not asked for") {
  // 5 leaves: leaf 4 moves up unpaired twice, so its digest is its parent's at every level.
  auto leaves = random_leaves(5, 4);
  merkle_tree theirs{alg, leaves};
  tree_walk walk{merkle_tree{alg, altered(leaves, {4})}, theirs.root()};
  auto sent = walk_honestly(walk, theirs);
  CHECK(sent == 2); // the root's two children; below, leaf 4 is known
  CHECK(walk.differing() == std::vector<leaf_range>{{4, 5}});
  CHECK(walk.leaves() == leaves);
}

TEST_CASE("a one-block image's root is its block digest") {
  auto leaves = random_leaves(1, 5);
  merkle_tree theirs{alg, leaves};
  tree_walk walk{merkle_tree{alg, altered(leaves, {0})}, theirs.root()};
  CHECK(walk.done());
  CHECK(walk.digests_received() == 0);
  CHECK(walk.leaves() == leaves);
}

TEST_CASE("nodes that do not hash to their verified parent are refused") {
  auto leaves = random_leaves(64, 6);
  merkle_tree theirs{alg, leaves};
  auto ours = altered(leaves, {9});

  SECTION("a pair below the root") {
    tree_walk walk{merkle_tree{alg, ours}, theirs.root()};
    auto asked = walk.requests(16384);
    REQUIRE(asked == std::vector<node_range>{{5, 0, 2}});
    auto pair = std::vector<digest>(theirs.level(5).begin(), theirs.level(5).end());
    pair[1][3] ^= 1;
    auto err = walk.take(5, 0, pair);
    REQUIRE(err);
    CHECK(describe(err) == "tree nodes 0 and 1 of level 5 do not hash to their parent");
  }
  SECTION("leaves forged to point at other blocks") {
    tree_walk walk{merkle_tree{alg, ours}, theirs.root()};
    while (walk.level() > 0) {
      for (const auto& r : walk.requests(16384))
        REQUIRE_FALSE(walk.take(r.level, r.first, theirs.level(r.level).subspan(r.first, r.count)));
    }
    auto asked = walk.requests(16384);
    REQUIRE(asked == std::vector<node_range>{{0, 8, 2}});
    // The honest pair swapped: each digest is genuine, but not at its place.
    std::vector<digest> swapped{leaves[9], leaves[8]};
    auto err = walk.take(0, 8, swapped);
    REQUIRE(err);
    CHECK(describe(err) == "tree nodes 8 and 9 of level 0 do not hash to their parent");
    CHECK_FALSE(walk.done());
  }
  SECTION("nodes that were not asked for") {
    tree_walk walk{merkle_tree{alg, ours}, theirs.root()};
    walk.requests(16384);
    CHECK(describe(walk.take(4, 0, theirs.level(4).first(2)))
          == "tree nodes of level 4 were not asked for");
    CHECK_FALSE(walk.take(5, 1, theirs.level(5).subspan(1, 1)));
    CHECK(describe(walk.take(5, 1, theirs.level(5).subspan(1, 1)))
          == "tree node 1 of level 5 was not asked for");
  }
}
