#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include <caf/expected.hpp>

#include "image/merkle.hpp"
#include "messages/manifest.hpp"

namespace fwrescue {

/// Blocks of one image that were verified against its signed block digests and have stayed in
/// this process's memory since. The flasher writes them as they are, without reading them back
/// from the staging file and hashing them again: memory the process never gave up cannot change
/// behind it the way a file on disk can.
///
/// The buffer spans the whole image. It is mapped without being touched, so only the pages of
/// blocks actually put here take memory.
class verified_blocks {
public:
  /// Room for the blocks of the image with this root and layout; fails when the memory cannot
  /// be mapped.
  static caf::expected<std::shared_ptr<verified_blocks>>
  make(const digest& root, uint64_t image_size, uint32_t block_size);

  ~verified_blocks();
  verified_blocks(const verified_blocks&) = delete;
  verified_blocks& operator=(const verified_blocks&) = delete;

  /// Keeps block `index`, whose bytes the caller has verified. Returns false, keeping nothing,
  /// when `bytes` is not exactly that block's length.
  bool put(uint64_t index, std::span<const uint8_t> bytes);

  /// Gives blocks [first, first + count) their memory now, in one system call, ahead of put():
  /// faulting the pages in one at a time as they are first written costs about twice as much
  /// CPU. Only a hint: where the kernel cannot (before Linux 5.14), put() faults them in.
  void prepare(uint64_t first, uint64_t count);

  /// prepare() for every range of `blocks`, on `threads` threads of its own, while the caller
  /// goes on (the recipient does it while it waits for offers, when it expects to pull those
  /// blocks); prepare() then leaves those blocks to them. put() may run meanwhile; the
  /// destructor waits for the threads. Called at most once, before any prepare().
  void prepare_in_background(const std::vector<leaf_range>& blocks, unsigned threads);

  /// Memory made before the image was known (the root it was made with is a guess) is taken
  /// for the image with `root` when its layout fits and nothing is held yet; else false.
  bool adopt(const digest& root, uint64_t image_size, uint32_t block_size);

  bool holds(uint64_t index) const {
    return index < held_.size() && held_[index];
  }

  /// The bytes of held blocks at [offset, offset + length) of the image.
  std::span<const uint8_t> bytes(uint64_t offset, size_t length) const {
    return {bytes_ + offset, length};
  }

  const digest& root() const {
    return root_;
  }

private:
  verified_blocks(const digest& root, uint64_t image_size, uint32_t block_size, uint8_t* bytes);
  digest root_;
  uint64_t image_size_;
  uint32_t block_size_;
  uint8_t* bytes_;
  std::vector<bool> held_;
  /// Blocks whose pages the background threads map (set before they start, then only read).
  std::vector<bool> in_background_;
  std::vector<std::jthread> preparing_;
  void prepare_pages(uint64_t first, uint64_t count);
};

} // namespace fwrescue
