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
#include "messages/manifest.hpp"

namespace fwrescue {

/// An image this node is still pulling, as far as it has verified it: what it serves to its
/// peers meanwhile, so the image spreads through a rack while it is being pulled. The transfer
/// adds each block once it is verified (and staged, when it came from a donor); the donor reads
/// only blocks added, from the staging file or, for blocks found good on the flash, the flash.
///
/// Shared between the transfer and the donor, which run on different threads: every member is
/// safe to call from either. Once invalidated (the transfer moves to another image, or hands
/// the image to the flasher, which rewrites the flash) it reads nothing more, and a read that
/// overlapped the invalidation fails rather than return bytes that may be of another image.
class partial_image {
public:
  /// Reads image bytes at an offset of the flash region.
  using flash_reader = std::function<caf::error(uint64_t offset, std::span<uint8_t> out)>;

  /// `manifest` with its block digests; blocks already held (`held`), and of those the ones in
  /// the staging file at `staging_path` (`staged`), the others being on the flash.
  static caf::expected<std::shared_ptr<partial_image>>
  open(signed_manifest manifest, const std::string& staging_path, flash_reader read_flash,
       const std::vector<bool>& held, const std::vector<bool>& staged, uint32_t target_index);

  ~partial_image();
  partial_image(const partial_image&) = delete;
  partial_image& operator=(const partial_image&) = delete;

  const signed_manifest& manifest() const {
    return manifest_;
  }
  /// Which of the node's firmware targets is recovering this image.
  uint32_t target_index() const {
    return target_index_;
  }

  /// Block `index` was verified; `staged`: it is in the staging file (else on the flash).
  void add(uint64_t index, bool staged);

  /// The blocks held now.
  block_set holdings() const;
  uint64_t count() const;

  bool valid() const {
    return valid_.load();
  }
  void invalidate() {
    valid_.store(false);
  }

  /// Reads blocks [first, first + count) into `out` (their exact length). Fails naming the
  /// first block not held, or when the image was invalidated before the read ended.
  caf::error read(uint64_t first, uint64_t count, std::span<uint8_t> out) const;

private:
  partial_image(signed_manifest manifest, int fd, flash_reader read_flash, uint32_t target_index);

  signed_manifest manifest_;
  int fd_ = -1;
  flash_reader read_flash_;
  uint32_t target_index_ = 0;
  std::atomic<bool> valid_{true};
  mutable std::mutex mutex_;
  block_set held_;
  std::vector<bool> staged_;
};

} // namespace fwrescue
