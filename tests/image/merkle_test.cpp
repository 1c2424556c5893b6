#include <catch2/catch.hpp>

#include <random>

#include <sodium.h>

#include "image/merkle.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

constexpr uint32_t block = 512;

merkle_tree tree_of(const std::vector<uint8_t>& image,
                    hash_algorithm alg = hash_algorithm::blake2b_256, size_t chunk = 4096) {
  tree_builder b{alg, block};
  for (size_t off = 0; off < image.size(); off += chunk)
    b.update(std::span{image}.subspan(off, std::min(chunk, image.size() - off)));
  return std::move(b).finish();
}

/// The diff a reader would compute by hand: compare every leaf.
std::vector<leaf_range> brute_force_diff(const merkle_tree& a, const merkle_tree& b) {
  std::vector<leaf_range> out;
  for (uint64_t i = 0; i < a.leaf_count(); ++i) {
    if (a.leaves()[i] == b.leaves()[i])
      continue;
    if (!out.empty() && out.back().end == i)
      out.back().end = i + 1;
    else
      out.push_back({i, i + 1});
  }
  return out;
}

} // namespace

TEST_CASE("a leaf is the hash of 0x00, the little-endian index and the block") {
  auto data = test::random_bytes(block, 1);
  std::vector<uint8_t> input{0x00, 0x05, 0, 0, 0, 0, 0, 0, 0};
  input.insert(input.end(), data.begin(), data.end());
  digest expected;
  crypto_generichash(expected.data(), expected.size(), input.data(), input.size(), nullptr, 0);
  CHECK(leaf_digest(hash_algorithm::blake2b_256, 5, data) == expected);

  digest expected_sha;
  crypto_hash_sha256(expected_sha.data(), input.data(), input.size());
  CHECK(leaf_digest(hash_algorithm::sha256, 5, data) == expected_sha);
}

TEST_CASE("inner nodes use prefix 0x01 and an odd last node moves up unpaired") {
  auto alg = hash_algorithm::blake2b_256;
  auto image = test::random_bytes(5 * block, 2);
  auto tree = tree_of(image);
  std::vector<digest> l;
  for (uint64_t i = 0; i < 5; ++i)
    l.push_back(leaf_digest(alg, i, std::span{image}.subspan(i * block, block)));

  std::vector<uint8_t> input{0x01};
  input.insert(input.end(), l[0].begin(), l[0].end());
  input.insert(input.end(), l[1].begin(), l[1].end());
  digest n01;
  crypto_generichash(n01.data(), n01.size(), input.data(), input.size(), nullptr, 0);
  CHECK(node_digest(alg, l[0], l[1]) == n01);

  auto n23 = node_digest(alg, l[2], l[3]);
  auto n0123 = node_digest(alg, n01, n23);
  CHECK(tree.height() == 4);
  CHECK(tree.level(1).size() == 3);
  CHECK(tree.level(1)[2] == l[4]);
  CHECK(tree.root() == node_digest(alg, n0123, l[4]));
}

TEST_CASE("a one-block image's root is its leaf, and a short last block is hashed as is") {
  auto alg = hash_algorithm::blake2b_256;
  auto one = test::random_bytes(100, 3);
  CHECK(tree_of(one).root() == leaf_digest(alg, 0, one));

  auto image = test::random_bytes(block + 100, 4);
  auto tree = tree_of(image);
  REQUIRE(tree.leaf_count() == 2);
  CHECK(tree.leaves()[1] == leaf_digest(alg, 1, std::span{image}.subspan(block)));
}

TEST_CASE("the tree does not depend on how the image is split into chunks") {
  auto image = test::random_bytes(13 * block + 77, 5);
  auto reference = tree_of(image, hash_algorithm::blake2b_256, image.size());
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{block - 1}, size_t{block}, size_t{block + 1},
                       size_t{3 * block + 5}}) {
    INFO("chunk " << chunk);
    CHECK(tree_of(image, hash_algorithm::blake2b_256, chunk).root() == reference.root());
  }
}

TEST_CASE("hashing on several threads builds the same tree as on one") {
  auto image = test::random_bytes(301 * block + 77, 6);
  auto reference = tree_of(image, hash_algorithm::blake2b_256, image.size());
  for (unsigned threads : {2u, 3u, 8u}) {
    for (size_t chunk : {size_t{block + 1}, size_t{64 * block}, image.size()}) {
      INFO(threads << " threads, chunk " << chunk);
      tree_builder b{hash_algorithm::blake2b_256, block, threads};
      for (size_t off = 0; off < image.size(); off += chunk)
        b.update(std::span{image}.subspan(off, std::min(chunk, image.size() - off)));
      auto tree = std::move(b).finish();
      REQUIRE(tree.leaf_count() == reference.leaf_count());
      CHECK(std::equal(tree.leaves().begin(), tree.leaves().end(), reference.leaves().begin()));
      CHECK(tree.root() == reference.root());
    }
  }
}

TEST_CASE("every block's authentication path verifies, and only for that block") {
  auto alg = GENERATE(hash_algorithm::blake2b_256, hash_algorithm::sha256);
  for (uint64_t n = 1; n <= 33; ++n) {
    auto image = test::random_bytes(n * block, 100 + n);
    auto tree = tree_of(image, alg);
    for (uint64_t i = 0; i < n; ++i) {
      INFO("leaves " << n << ", index " << i);
      auto leaf = tree.leaves()[i];
      auto path = tree.auth_path(i);
      REQUIRE(verify_auth_path(alg, n, i, leaf, path, tree.root()));
      if (n > 1) {
        CHECK_FALSE(verify_auth_path(alg, n, i, tree.leaves()[(i + 1) % n], path, tree.root()));
        CHECK_FALSE(verify_auth_path(alg, n, (i + 1) % n, leaf, path, tree.root()));
      }
      CHECK_FALSE(verify_auth_path(alg, n, n, leaf, path, tree.root()));
      if (!path.empty()) {
        auto tampered = path;
        tampered.back()[7] ^= 0x40;
        CHECK_FALSE(verify_auth_path(alg, n, i, leaf, tampered, tree.root()));
        auto shorter = path;
        shorter.pop_back();
        CHECK_FALSE(verify_auth_path(alg, n, i, leaf, shorter, tree.root()));
      }
      auto longer = path;
      longer.push_back(leaf);
      CHECK_FALSE(verify_auth_path(alg, n, i, leaf, longer, tree.root()));
    }
  }
}

TEST_CASE("tree comparison finds exactly the blocks a leaf-by-leaf comparison finds") {
  std::mt19937_64 gen{42};
  for (int round = 0; round < 200; ++round) {
    auto n = std::uniform_int_distribution<uint64_t>{1, 300}(gen);
    auto ours_image = test::random_bytes(n * block, gen());
    auto theirs_image = ours_image;
    auto changes = std::uniform_int_distribution<uint64_t>{0, std::min<uint64_t>(n, 20)}(gen);
    for (uint64_t c = 0; c < changes; ++c) {
      auto at = std::uniform_int_distribution<size_t>{0, theirs_image.size() - 1}(gen);
      theirs_image[at] ^= static_cast<uint8_t>(1 + gen() % 255);
    }
    auto ours = tree_of(ours_image);
    auto theirs = tree_of(theirs_image);
    INFO("round " << round << ", " << n << " blocks");
    REQUIRE(diff(ours, theirs) == brute_force_diff(ours, theirs));
  }
}

TEST_CASE("trees of different shape share nothing: every block differs") {
  auto a = tree_of(test::random_bytes(8 * block, 7));
  auto b = tree_of(test::random_bytes(9 * block, 7));
  CHECK(diff(a, b) == std::vector<leaf_range>{{0, 9}});
  auto same_bytes = test::random_bytes(4 * block, 8);
  CHECK(diff(tree_of(same_bytes), tree_of(same_bytes, hash_algorithm::sha256))
        == std::vector<leaf_range>{{0, 4}});
}
