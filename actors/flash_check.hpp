#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
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

/// Checks the flash against a manifest: which blocks differ. An error means the flash could not
/// be read, is smaller than the image, or the manifest's digest list is inconsistent.
caf::expected<block_report> check_flash(flash& chip, const signed_manifest& m,
                                        unsigned threads = 1);

/// The final check of a flash being written, begun while it is written.
///
/// Each piece of content handed to written() has just been written; its whole blocks are hashed
/// on helper threads while the next pieces are written. finish(), after
/// the last write, reads the whole image back once: a block whose bytes equal the content it was
/// hashed from keeps that digest (the bytes are the same, so the digest is too), and every other
/// block is hashed from what was read. Every leaf thus describes what the flash holds after the
/// last write, as a plain hash of the flash would, and a write that disturbed an earlier piece
/// is caught; the hashing of rewritten blocks just no longer waits for the last write. With
/// nothing written, finish() is that plain hash (check_flash uses it so).
///
/// finish() reads on the caller's thread, a megabyte at a time into a few buffers in turn, while
/// the helpers compare and hash what was read.
class write_check {
public:
  /// For an image laid out as `m`; hashes on `threads` threads in all (the caller's one
  /// included: threads - 1 helpers, none for 1).
  write_check(const manifest& m, unsigned threads);
  ~write_check();
  write_check(const write_check&) = delete;
  write_check& operator=(const write_check&) = delete;

  /// `content` was written at `offset` of the image. Its whole blocks are hashed from it; it
  /// must stay unchanged until finish() returns, which finds any block the flash holds
  /// differently.
  void written(uint64_t offset, std::span<const uint8_t> content);

  /// Waits for the hashing of written content, reads the image back and builds its tree. It may
  /// be called again after more writes (of content already handed to written()): each call
  /// reads the whole image afresh, and the content is not hashed again.
  caf::expected<merkle_tree> finish(flash& chip);

private:
  /// Helpers run queued tasks until the queue is closed and empty.
  void run_tasks();
  /// Runs one queued task on the caller's thread; false when none is queued. Needs `lock`.
  bool run_one(std::unique_lock<std::mutex>& lock);
  void push(std::function<void()> task);
  /// Runs queued tasks on the caller's thread too, until none is queued or running.
  void wait_for_tasks();
  /// Runs queued tasks on the caller's thread, or waits for a task to end, until `done()`.
  template <class Done>
  void help_until(std::unique_lock<std::mutex>& lock, Done done) {
    while (!done())
      if (!run_one(lock))
        wake_.wait(lock);
  }
  /// Leaves of blocks [first, end), read into `bytes` (which starts at block `first`), into
  /// `leaves`: a block that equals the content it was hashed from keeps its leaf, the others
  /// are hashed.
  void check_read(uint64_t first, uint64_t end, std::span<const uint8_t> bytes,
                  std::span<digest> leaves);

  const manifest& m_;
  unsigned threads_;
  /// Per block: the digest of the content handed to written() (unset where none was).
  std::vector<digest> leaves_;
  /// Per block: the content its leaf was hashed from (empty: not hashed yet).
  std::vector<std::span<const uint8_t>> hashed_from_;
  std::mutex mutex_;
  /// Signalled when a task is queued, a task ends, or the queue closes.
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  /// Tasks taken from the queue and not yet ended.
  size_t running_ = 0;
  bool closed_ = false;
  std::vector<std::jthread> helpers_;
};

/// The report an operator sees for a check of the flash against `m`: the bad blocks and a
/// one-line detail ("flash matches …", "17 of 892 blocks do not match <against>, …", or the
/// error).
flash_report flash_report_for(const signed_manifest& m, const caf::expected<block_report>& blocks,
                              const char* against = "the installed manifest");

} // namespace fwrescue
