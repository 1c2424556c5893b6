#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <caf/expected.hpp>

namespace fwrescue {

/// The file a recipient assembles the replacement image in before anything touches the flash.
/// Blocks land at their image offsets in any order; nothing here knows whether they are
/// verified (the transfer actor writes only verified blocks).
class staging_file {
public:
  /// Opens (creating if needed) `path` and sizes it to `size` bytes, keeping existing content.
  static caf::expected<std::unique_ptr<staging_file>> open(const std::string& path,
                                                           uint64_t size);
  ~staging_file();

  caf::error write(uint64_t offset, std::span<const uint8_t> bytes);
  caf::error read(uint64_t offset, std::span<uint8_t> out) const;
  /// Flushes to stable storage.
  caf::error sync();

  const std::string& path() const {
    return path_;
  }

private:
  staging_file(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
  }
  std::string path_;
  int fd_;
};

} // namespace fwrescue
