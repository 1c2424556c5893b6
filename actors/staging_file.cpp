#include "actors/staging_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"

namespace fwrescue {

namespace {

/// Gathered writes go to the file once they reach this size.
constexpr size_t gather_limit = 1 << 20;
constexpr uint64_t submit_every = 4 << 20;

caf::error io_error(const std::string& path, const char* op, const positional_io& io) {
  return make_error(errc::io_failure,
                    fmt::format("staging file {}: {} at {:#x}: {}", path, op, io.at, describe(io)));
}

} // namespace

caf::expected<std::unique_ptr<staging_file>> staging_file::open(const std::string& path,
                                                                uint64_t size) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(errc::io_failure,
                      fmt::format("staging file {}: cannot open: {}", path, std::strerror(errno)));
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    auto err = make_error(errc::io_failure, fmt::format("staging file {}: cannot size to {} "
                                                        "bytes: {}",
                                                        path, size, std::strerror(errno)));
    ::close(fd);
    return err;
  }
  return std::unique_ptr<staging_file>{new staging_file{path, fd}};
}

staging_file::~staging_file() {
  flush();
  ::close(fd_);
}

caf::error staging_file::write(uint64_t offset, std::span<const uint8_t> bytes) {
  if (!pending().empty() && (!borrowed_.empty() || offset != pending_offset_ + gathered_.size()))
    if (auto err = flush())
      return err;
  if (gathered_.empty())
    pending_offset_ = offset;
  gathered_.insert(gathered_.end(), bytes.begin(), bytes.end());
  return gathered_.size() >= gather_limit ? flush() : caf::none;
}

caf::error staging_file::write_in_place(uint64_t offset, std::span<const uint8_t> bytes) {
  bool continues = !borrowed_.empty() && offset == pending_offset_ + borrowed_.size()
                   && bytes.data() == borrowed_.data() + borrowed_.size();
  if (!pending().empty() && !continues)
    if (auto err = flush())
      return err;
  if (continues) {
    borrowed_ = {borrowed_.data(), borrowed_.size() + bytes.size()};
  } else {
    pending_offset_ = offset;
    borrowed_ = bytes;
  }
  return borrowed_.size() >= gather_limit ? flush() : caf::none;
}

caf::error staging_file::flush() {
  auto bytes = pending();
  if (bytes.empty())
    return caf::none;
  auto io = pwrite_all(fd_, pending_offset_, bytes);
  auto err = io.error ? io_error(path_, "write", io) : caf::none;
  if (!err) {
    unsubmitted_ += bytes.size();
    // Every few megabytes, start writing the file's dirty pages to the disk; sync() then waits
    // for little. Whole-file hints let the kernel build large writes even when blocks arrive out
    // of order (a hint per gathered write made hundreds of small ones). Only a hint: its failure
    // changes nothing, sync() reports real errors.
    if (unsubmitted_ >= submit_every) {
      ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
      unsubmitted_ = 0;
    }
  }
  gathered_.clear();
  borrowed_ = {};
  return err;
}

caf::error staging_file::read(uint64_t offset, std::span<uint8_t> out) const {
  if (auto io = pread_all(fd_, offset, out); io.error)
    return io_error(path_, "read", io);
  // Pending bytes not yet written override what the file holds.
  auto bytes = pending();
  auto from = std::max(offset, pending_offset_);
  auto to = std::min(offset + out.size(), pending_offset_ + bytes.size());
  if (!bytes.empty() && from < to)
    std::copy_n(bytes.begin() + static_cast<ptrdiff_t>(from - pending_offset_), to - from,
                out.begin() + static_cast<ptrdiff_t>(from - offset));
  return caf::none;
}

caf::error staging_file::sync() {
  if (auto err = flush())
    return err;
  if (::fdatasync(fd_) != 0)
    return io_error(path_, "flush", {errno, 0});
  return caf::none;
}

} // namespace fwrescue
