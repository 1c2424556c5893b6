#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <caf/expected.hpp>

namespace fwrescue {

/// Which blocks of an image a node holds, verified: what a partial donor offers and keeps its
/// recipients told of. On the wire it is a run-length list, so the usual shapes (nothing yet, a
/// few long runs, everything) take a few bytes whatever the image's size.
///
/// Encoding: varints (LEB128) giving run lengths, alternately of blocks missing and blocks
/// held, starting with missing (0 when block 0 is held); the runs add up to exactly the image's
/// block count, and no run after the first is empty.
class block_set {
public:
  block_set() = default;
  /// A set over `block_count` blocks holding none of them, or all when `all`.
  explicit block_set(uint64_t block_count, bool all = false);

  uint64_t block_count() const {
    return bits_.size();
  }
  uint64_t count() const {
    return count_;
  }
  bool full() const {
    return count_ == bits_.size();
  }
  bool contains(uint64_t index) const {
    return index < bits_.size() && bits_[index];
  }
  /// Whether every block of [first, first + n) is held.
  bool contains(uint64_t first, uint64_t n) const;
  void insert(uint64_t index);

  /// The run-length encoding, at most `max_bytes` long: a set whose encoding is longer is
  /// cut to its first runs, the rest reading as missing. The result is always true (a subset of
  /// what is held), and says so when it is cut by holding fewer blocks.
  std::vector<uint8_t> encode(size_t max_bytes) const;

  /// Reads an encoding from an untrusted peer for an image of `block_count` blocks: runs that
  /// do not add up to exactly that count, an empty run, or a varint past 64 bits are refused.
  static caf::expected<block_set> decode(std::span<const uint8_t> bytes, uint64_t block_count);

  bool operator==(const block_set&) const = default;

private:
  std::vector<bool> bits_;
  uint64_t count_ = 0;
};

} // namespace fwrescue
