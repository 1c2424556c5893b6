#include "sources/run_cursor.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

run_cursor::run_cursor(std::span<const byte_run> runs) : runs_(runs) {
  // Empty runs owe nothing; skipping them here keeps next() inside a run.
  while (index_ < runs_.size() && runs_[index_].length == 0)
    ++index_;
}

caf::error run_cursor::deliver(uint64_t offset, std::span<const uint8_t> bytes,
                               const run_sink& sink) {
  if (!done() && offset > next())
    return make_error(
      errc::invalid_argument,
      fmt::format("run_cursor: bytes from {} handed while {} is owed", offset, next()));
  uint64_t end = offset + bytes.size();
  while (!done() && next() < end) {
    uint64_t from = std::max(offset, next());
    uint64_t to = std::min(end, run_end());
    if (auto err = sink(from, bytes.subspan(from - offset, to - from)))
      return err;
    done_in_run_ = to - runs_[index_].offset;
    if (to == run_end()) {
      done_in_run_ = 0;
      do
        ++index_;
      while (index_ < runs_.size() && runs_[index_].length == 0);
    }
  }
  return {};
}

} // namespace fwrescue
