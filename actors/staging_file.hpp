#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace fwrescue {

/// The file a recipient assembles the replacement image in before anything touches the flash.
/// Blocks land at their image offsets in any order; nothing here knows whether they are
/// verified (the transfer actor writes only verified blocks).
///
/// Writes that continue the previous one are gathered and written together, up to a megabyte,
/// and every few megabytes written start their write-back to the disk at once, so that sync()
/// at the end waits only for the last part. read() sees gathered bytes not yet written.
class staging_file {
public:
  /// Opens (creating if needed) `path` and sizes it to `size` bytes, keeping existing content.
  static caf::expected<std::unique_ptr<staging_file>> open(const std::string& path, uint64_t size);
  /// Writes what is still gathered; an error is lost here, so callers that care call flush().
  ~staging_file();

  caf::error write(uint64_t offset, std::span<const uint8_t> bytes);
  /// Like write(), without copying the bytes: they must stay unchanged until the next flush()
  /// or sync() (or the destructor). Writes that continue the previous one both in the file and
  /// in memory are written together, up to a megabyte.
  caf::error write_in_place(uint64_t offset, std::span<const uint8_t> bytes);
  caf::error read(uint64_t offset, std::span<uint8_t> out) const;
  /// Writes the gathered bytes to the file.
  caf::error flush();
  /// Flushes, then makes everything written durable (fdatasync).
  caf::error sync();

  const std::string& path() const {
    return path_;
  }

private:
  staging_file(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
  }
  std::string path_;
  int fd_;
  /// The bytes for [pending_offset_, pending_offset_ + pending().size()) not written yet: copied
  /// into `gathered_` by write(), or left where they are (`borrowed_`) by write_in_place(). One
  /// of the two is empty.
  uint64_t pending_offset_ = 0;
  std::vector<uint8_t> gathered_;
  std::span<const uint8_t> borrowed_;
  std::span<const uint8_t> pending() const {
    return borrowed_.empty() ? std::span<const uint8_t>{gathered_} : borrowed_;
  }
  /// Bytes written since write-back to the disk was last started.
  uint64_t unsubmitted_ = 0;
};

} // namespace fwrescue
