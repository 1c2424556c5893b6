#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include <caf/expected.hpp>

#include "hal/flash.hpp"
#include "image/image_check.hpp"
#include "image/merkle.hpp"
#include "messages/manifest.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

/// Hashes the first `size` bytes of the flash into a Merkle tree, reading 1 MiB at a time and
/// hashing each megabyte's blocks on `threads` threads.
caf::expected<merkle_tree> hash_flash(flash& chip, uint64_t size, hash_algorithm alg,
                                      uint32_t block_size, unsigned threads = 1);

/// Checks the flash against a manifest: which blocks differ. An error means the flash could not
/// be read, is smaller than the image, or the manifest's digest list is inconsistent.
caf::expected<block_report> check_flash(flash& chip, const signed_manifest& m,
                                        unsigned threads = 1);

/// The final check of a flash being written, begun while it is written.
///
/// Each piece of content handed to written() has just been written and read back equal; its
/// whole blocks are hashed on helper threads while the next pieces are written. finish(), after
/// the last write, reads the whole image back once: a block whose bytes equal the content it was
/// hashed from keeps that digest (the bytes are the same, so the digest is too), and every other
/// block is hashed from what was read. Every leaf thus describes what the flash holds after the
/// last write, as with hash_flash(), and a write that disturbed an earlier piece is caught; the
/// hashing of rewritten blocks just no longer waits for the last write.
class write_check {
public:
  /// For an image laid out as `m`; hashes on `threads` threads in all (the caller's one
  /// included: threads - 1 helpers, none for 1).
  write_check(const manifest& m, unsigned threads);
  ~write_check();
  write_check(const write_check&) = delete;
  write_check& operator=(const write_check&) = delete;

  /// `content` was written at `offset` of the image and read back equal. Its whole blocks are
  /// hashed from it; it must stay unchanged until finish() returns.
  void written(uint64_t offset, std::span<const uint8_t> content);

  /// Waits for the hashing of written content, reads the image back and builds its tree.
  caf::expected<merkle_tree> finish(flash& chip);

private:
  struct piece {
    uint64_t first_block;
    std::span<const uint8_t> bytes;
  };
  /// Hashes queued pieces until the queue is empty and, with `until_closed`, closed.
  void hash_pieces(bool until_closed);
  void stop();

  const manifest& m_;
  unsigned threads_;
  std::vector<digest> leaves_;
  /// Per block: the content its leaf was hashed from (empty: not hashed yet).
  std::vector<std::span<const uint8_t>> hashed_from_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<piece> queue_;
  bool closed_ = false;
  std::vector<std::jthread> helpers_;
};

/// The report an operator sees for a check of the flash against `m`: the bad blocks and a
/// one-line detail ("flash matches …", "17 of 892 blocks do not match <against>, …", or the
/// error).
flash_report flash_report_for(const signed_manifest& m, const caf::expected<block_report>& blocks,
                              const char* against = "the installed manifest");

} // namespace fwrescue
