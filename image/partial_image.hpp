#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "image/block_set.hpp"
#include "image/verified_blocks.hpp"
#include "messages/manifest.hpp"

namespace fwrescue {

/// An image this node is still pulling, as far as it has verified it: what it serves to its
/// peers meanwhile, so the image spreads through a rack while it is being pulled. The transfer
/// adds each block once it is verified and readable where it says it is; the donor reads only
/// blocks added: from the memory the transfer keeps verified blocks in, the staging file (once
/// written there, not while a write of it is still being gathered), or the flash.
///
/// Shared between the transfer and the donor, which run on different threads: every member is
/// safe to call from either. Once invalidated (the transfer moves to another image, or hands
/// the image to the flasher, which rewrites the flash) it reads nothing more, and a read that
/// overlapped the invalidation fails rather than return bytes that may be of another image.
class partial_image {
public:
  /// Reads image bytes at an offset of the flash region.
  using flash_reader = std::function<caf::error(uint64_t offset, std::span<uint8_t> out)>;
  /// Where a held block's bytes are read from.
  enum class location : uint8_t { flash, staging_file, memory };

  /// `manifest` with its block digests; blocks already held (`held`), and of those the ones in
  /// the staging file at `staging_path` (`staged`), the others being on the flash. `memory`
  /// (may be null) is where blocks added as location::memory are read from.
  static caf::expected<std::shared_ptr<partial_image>>
  open(signed_manifest manifest, const std::string& staging_path, flash_reader read_flash,
       const std::vector<bool>& held, const std::vector<bool>& staged, uint32_t target_index,
       std::shared_ptr<const verified_blocks> memory = nullptr);

  ~partial_image();
  partial_image(const partial_image&) = delete;
  partial_image& operator=(const partial_image&) = delete;

  const signed_manifest& manifest() const {
    return manifest_;
  }
  /// Where blocks added as location::memory are read from (may be null).
  const std::shared_ptr<const verified_blocks>& memory() const {
    return memory_;
  }
  /// Which of the node's firmware targets is recovering this image.
  uint32_t target_index() const {
    return target_index_;
  }

  /// Block `index` was verified and can be read at `where` from now on. A block said to be in
  /// memory when no memory was given is not added.
  void add(uint64_t index, location where);

  /// The blocks held now.
  block_set holdings() const;
  uint64_t count() const;

  bool valid() const {
    return valid_.load();
  }
  /// The image is whole and goes to the flasher, which rewrites the flash: blocks read from
  /// the flash are no longer held (a read that overlapped fails), the others are served on from
  /// the memory and the staging file, which the flasher only reads, until the donor lets go.
  void hand_over();
  void invalidate() {
    valid_.store(false);
  }

  /// Reads blocks [first, first + count) into `out` (their exact length). Fails naming the
  /// first block not held, or when the image was invalidated before the read ended.
  caf::error read(uint64_t first, uint64_t count, std::span<uint8_t> out) const;

private:
  partial_image(signed_manifest manifest, int fd, flash_reader read_flash, uint32_t target_index,
                std::shared_ptr<const verified_blocks> memory);

  signed_manifest manifest_;
  int fd_ = -1;
  flash_reader read_flash_;
  uint32_t target_index_ = 0;
  std::shared_ptr<const verified_blocks> memory_;
  std::atomic<bool> valid_{true};
  std::atomic<bool> flash_rewritten_{false};
  mutable std::mutex mutex_;
  block_set held_;
  std::vector<location> where_;
};

} // namespace fwrescue
