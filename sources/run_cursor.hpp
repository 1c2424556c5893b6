#pragma once

#include <cstdint>
#include <span>

#include <caf/error.hpp>

#include "sources/image_location.hpp"

namespace fwrescue {

/// How far a read of sorted, disjoint runs has come: the next image byte owed to the sink.
/// Every transfer of the read, first try or retry, ranged or whole-image, hands its bytes
/// through one cursor, so a retry resumes where the last one stopped and no byte reaches the
/// sink twice.
class run_cursor {
public:
  explicit run_cursor(std::span<const byte_run> runs);

  /// Whether every run's bytes went to the sink.
  bool done() const {
    return index_ == runs_.size();
  }

  /// The image offset of the next byte owed; only while !done().
  uint64_t next() const {
    return runs_[index_].offset + done_in_run_;
  }

  /// The end (exclusive) of the run holding next(); only while !done().
  uint64_t run_end() const {
    return runs_[index_].offset + runs_[index_].length;
  }

  /// Hands `sink` the bytes of `bytes` (image bytes from `offset` on) that fall in a run at or
  /// after next(), in order, and moves past them. Bytes before next(), between runs or after
  /// the last run are dropped: a server without ranges sends the whole image. `offset` must not
  /// be past next() (the bytes between would be lost). The sink's error is returned as is.
  caf::error deliver(uint64_t offset, std::span<const uint8_t> bytes, const run_sink& sink);

private:
  std::span<const byte_run> runs_;
  size_t index_ = 0;
  uint64_t done_in_run_ = 0;
};

} // namespace fwrescue
