#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

#include <caf/expected.hpp>

namespace fwrescue {

/// Reads a whole file that must not exceed `max_bytes`. `what` names the file's role in errors
/// ("manifest", "public key").
caf::expected<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_bytes,
                                              const std::string& what);

/// Reads a file front to back in chunks of `chunk_size` bytes (the last may be shorter), reusing
/// one buffer, and hands each chunk to `consume`. Returns the number of bytes read.
caf::expected<uint64_t> stream_file(const std::string& path, size_t chunk_size,
                                    const std::function<void(std::span<const uint8_t>)>& consume,
                                    const std::string& what);

/// Whether to replace a file that already exists.
enum class on_existing { refuse, replace };

/// Writes `bytes` to `path` so that readers see either the old file or the complete new one:
/// a temporary file beside it is written, given `mode`, flushed, and renamed over `path`.
/// With `on_existing::refuse`, an existing `path` is an `errc::already_exists` error and stays
/// untouched.
caf::error write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, mode_t mode,
                             on_existing existing, const std::string& what);

} // namespace fwrescue

namespace fwrescue {

/// Where a positional read or write of a whole buffer stopped: `error` is 0 when every byte
/// moved, else an errno value, or `end_of_file` when a read met the end of the file first; `at`
/// is the file offset where it stopped.
struct positional_io {
  static constexpr int end_of_file = -1;
  int error = 0;
  uint64_t at = 0;
};

/// pread()s all of `out` from `offset`, retrying on EINTR and short reads.
positional_io pread_all(int fd, uint64_t offset, std::span<uint8_t> out);

/// pwrite()s all of `bytes` at `offset`, retrying on EINTR and short writes.
positional_io pwrite_all(int fd, uint64_t offset, std::span<const uint8_t> bytes);

/// What went wrong in a positional_io, for a message: strerror, or "unexpected end of file".
std::string describe(const positional_io& io);

/// Size in bytes of the regular file at `path`.
caf::expected<uint64_t> file_size(const std::string& path, const std::string& what);

} // namespace fwrescue
