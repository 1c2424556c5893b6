#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "image/hash.hpp"
#include "messages/manifest.hpp"

namespace fwrescue {

/// A half-open range of leaf (block) indices [first, end).
struct leaf_range {
  uint64_t first = 0;
  uint64_t end = 0;

  uint64_t size() const {
    return end - first;
  }

  friend bool operator==(const leaf_range&, const leaf_range&) = default;
};

/// A complete Merkle tree over an image's blocks, every level kept.
///
/// Level 0 holds the leaf digests. Level k+1 pairs up level k left to right: node i is
/// node_digest(level_k[2i], level_k[2i+1]); when level k has an odd number of nodes, its last
/// node moves up unchanged (it is not paired with a copy of itself). The root is the single node
/// of the top level; a one-block image's root is its leaf digest. docs/manifest.md has the same
/// rules.
class merkle_tree {
public:
  /// Builds the upper levels over `leaves`, which must not be empty.
  merkle_tree(hash_algorithm alg, std::vector<digest> leaves);

  hash_algorithm algorithm() const {
    return alg_;
  }

  const digest& root() const {
    return levels_.back().front();
  }

  uint64_t leaf_count() const {
    return levels_.front().size();
  }

  std::span<const digest> leaves() const {
    return levels_.front();
  }

  /// Number of levels, leaves included; 1 for a one-block image.
  size_t height() const {
    return levels_.size();
  }

  std::span<const digest> level(size_t k) const {
    return levels_[k];
  }

  /// The sibling digests from leaf `index` up to the root, lowest first. Levels where the node
  /// moves up unpaired contribute nothing, so the path can be shorter than height() - 1.
  std::vector<digest> auth_path(uint64_t index) const;

private:
  hash_algorithm alg_;
  std::vector<std::vector<digest>> levels_;
};

/// Builds a tree in one pass over an image delivered in chunks of any size.
///
/// Whole blocks are hashed straight from the caller's chunk; only a block split across two
/// chunks is copied, into one block-sized buffer.
class tree_builder {
public:
  /// `threads` > 1 hashes the whole blocks of each chunk on that many threads (see
  /// leaf_digests); chunks of a megabyte or more keep them busy.
  tree_builder(hash_algorithm alg, uint32_t block_size, unsigned threads = 1);

  void update(std::span<const uint8_t> bytes);

  uint64_t bytes_seen() const {
    return bytes_seen_;
  }

  /// Hashes a trailing short block, if any, and builds the tree. Needs at least one byte seen.
  merkle_tree finish() &&;

private:
  hash_algorithm alg_;
  uint32_t block_size_;
  unsigned threads_;
  uint64_t bytes_seen_ = 0;
  std::vector<uint8_t> partial_;
  std::vector<digest> leaves_;
};

/// Checks that `leaf` sits at `index` of a tree with `leaf_count` leaves and root `root`,
/// using the path produced by merkle_tree::auth_path. Needs nothing but these values, so a
/// recipient can check one block from an untrusted donor without holding the image.
bool verify_auth_path(hash_algorithm alg, uint64_t leaf_count, uint64_t index, const digest& leaf,
                      std::span<const digest> path, const digest& root);

/// Returns the leaf ranges where `ours` and `theirs` differ, in order, adjacent leaves merged.
/// Walks both trees from the root down and descends only into subtrees whose digests differ,
/// so it touches O(d log n) nodes for d differing leaves. Trees of different leaf counts or
/// algorithms share no structure: the result is every leaf of `theirs`.
std::vector<leaf_range> diff(const merkle_tree& ours, const merkle_tree& theirs);

} // namespace fwrescue
