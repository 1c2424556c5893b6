#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <vector>

#include <caf/error.hpp>

#include "image/merkle.hpp"

namespace fwrescue {

/// Nodes [first, first + count) of one level of a Merkle tree (level 0: the leaves).
struct node_range {
  uint32_t level = 0;
  uint64_t first = 0;
  uint64_t count = 0;

  friend bool operator==(const node_range&, const node_range&) = default;
};

/// Learns an image's block digests from an untrusted donor by comparing trees top-down.
///
/// The recipient builds `ours`, a tree of the image's shape (leaf count and hash algorithm)
/// over what it holds, and knows the image's signed root. Level by level from just below the
/// root, it asks for the children of every node that differs from its own, and checks each
/// received pair (or the lone last node of an odd level, which moves up unchanged) against its
/// parent, verified one level up; children equal to its own end the descent there. So d
/// differing leaves of n cost O(d log n) digests, and a node that does not hash to its parent
/// is caught at once: nothing unverified is ever used. Ranges of a level two nodes apart are
/// asked for as one, since a request costs more than the pair between them.
///
/// A pure value: the transfer drives it from the messages it receives, tests without actors.
class tree_walk {
public:
  /// Starts a walk of the signed tree with root `signed_root` against `ours`.
  tree_walk(merkle_tree ours, const digest& signed_root);

  /// Every differing leaf is known and verified.
  bool done() const {
    return done_;
  }

  /// The level whose nodes are being asked for.
  uint32_t level() const {
    return level_;
  }

  /// The ranges of the current level not yet asked for, each at most `max_count` nodes; they
  /// count as asked from now on. Empty while the level's answers are awaited, and once done.
  std::vector<node_range> requests(uint64_t max_count);

  /// Takes nodes [first, first + digests.size()) of `level` from the donor. Nodes not asked
  /// for, or a pair that does not hash to its verified parent, are an error naming them; the
  /// walk is then no longer usable. When the level is complete, the walk moves down a level.
  caf::error take(uint32_t level, uint64_t first, std::span<const digest> digests);

  /// Once done: the image's leaf digests, ours where they agree with the signed tree.
  std::vector<digest> leaves() const;

  /// Once done: the leaves where the signed tree differs from ours, adjacent ones merged.
  std::vector<leaf_range> differing() const;

  /// Digests received from the donor so far (what the walk cost on the wire).
  uint64_t digests_received() const {
    return received_;
  }

private:
  /// Moves to the level below: the children of the differing parents are wanted.
  void descend();
  /// Checks the children of `parent` once all have arrived.
  caf::error check_parent(uint64_t parent);
  /// The level's answers are complete: its differing nodes become the next parents.
  void finish_level();

  merkle_tree ours_;
  uint32_t level_ = 0;
  bool done_ = false;
  /// Verified nodes of level_ + 1 that differ from ours, by index.
  std::map<uint64_t, digest> parents_;
  /// Nodes of level_ received (or known: a lone last node equals its parent), by index.
  std::map<uint64_t, digest> got_;
  /// Ranges of level_ wanted and not yet asked for; nodes asked for and not yet received.
  std::vector<node_range> wanted_;
  std::set<uint64_t> awaited_;
  /// Verified leaves that differ from ours.
  std::map<uint64_t, digest> leaves_;
  uint64_t received_ = 0;
};

} // namespace fwrescue
