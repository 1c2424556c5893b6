#include "image/partial_image.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

caf::expected<std::shared_ptr<partial_image>>
partial_image::open(signed_manifest manifest, const std::string& staging_path,
                    flash_reader read_flash, const std::vector<bool>& held,
                    const std::vector<bool>& staged, uint32_t target_index,
                    std::shared_ptr<const verified_blocks> memory) {
  auto n = manifest.fields.block_count();
  if (held.size() != n || staged.size() != n || manifest.block_digests.size() != n)
    return make_error(errc::invalid_argument, "partial image: the block lists do not fit the image");
  // A descriptor of our own: the staging file object belongs to the transfer, and the flasher
  // removes the file once the recovery is over.
  int fd = ::open(staging_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(errc::io_failure, fmt::format("staging file {}: cannot open for serving: {}",
                                                    staging_path, std::strerror(errno)));
  std::shared_ptr<partial_image> out{
    new partial_image(std::move(manifest), fd, std::move(read_flash), target_index, std::move(memory))};
  out->held_ = block_set(n);
  out->where_.assign(n, location::flash);
  for (uint64_t i = 0; i < n; ++i) {
    if (held[i])
      out->held_.insert(i);
    if (staged[i])
      out->where_[i] = location::staging_file;
  }
  return out;
}

partial_image::partial_image(signed_manifest manifest, int fd, flash_reader read_flash,
                             uint32_t target_index, std::shared_ptr<const verified_blocks> memory)
  : manifest_(std::move(manifest)), fd_(fd), read_flash_(std::move(read_flash)),
    target_index_(target_index), memory_(std::move(memory)) {
}

partial_image::~partial_image() {
  if (fd_ >= 0)
    ::close(fd_);
}

void partial_image::add(uint64_t index, location where) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (index >= where_.size() || (where == location::memory && !memory_))
    return;
  where_[index] = where;
  held_.insert(index);
}

void partial_image::hand_over() {
  std::lock_guard<std::mutex> guard{mutex_};
  flash_rewritten_.store(true);
  block_set kept(where_.size());
  for (uint64_t i = 0; i < where_.size(); ++i)
    if (held_.contains(i) && where_[i] != location::flash)
      kept.insert(i);
  held_ = std::move(kept);
}

block_set partial_image::holdings() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return held_;
}

uint64_t partial_image::count() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return held_.count();
}

caf::error partial_image::read(uint64_t first, uint64_t count, std::span<uint8_t> out) const {
  const auto& m = manifest_.fields;
  auto n = m.block_count();
  if (first > n || count > n - first)
    return make_error(errc::invalid_argument,
                      fmt::format("blocks {}..{} are past the image's {}", first, first + count, n));
  // Taken under the lock that add() holds: a block's bytes were in place before it was added,
  // so what this thread reads below is what was verified.
  std::vector<location> where(count);
  {
    std::lock_guard<std::mutex> guard{mutex_};
    for (uint64_t k = 0; k < count; ++k) {
      if (!held_.contains(first + k))
        return make_error(errc::invalid_argument,
                          fmt::format("block {} is not held here yet", first + k));
      where[k] = where_[first + k];
    }
  }
  if (!valid())
    return make_error(errc::invalid_argument, "the image being recovered here changed");
  size_t at = 0;
  bool from_flash = false;
  for (uint64_t k = 0; k < count; ++k) {
    auto i = first + k;
    auto length = m.block_length(i);
    if (out.size() - at < length)
      return make_error(errc::invalid_argument, "partial image: the buffer is too small");
    auto dst = out.subspan(at, length);
    auto offset = i * m.block_size;
    if (where[k] == location::memory) {
      auto bytes = memory_->bytes(offset, length);
      std::copy(bytes.begin(), bytes.end(), dst.begin());
    } else if (where[k] == location::staging_file) {
      auto got = ::pread(fd_, dst.data(), dst.size(), static_cast<off_t>(offset));
      if (got != static_cast<ssize_t>(dst.size()))
        return make_error(errc::io_failure,
                          fmt::format("staging file: cannot read block {}: {}", i,
                                      got < 0 ? std::strerror(errno) : "short read"));
    } else if (auto err = read_flash_(offset, dst)) {
      return err;
    } else {
      from_flash = true;
    }
    at += length;
  }
  // Checked again after reading: bytes read while the transfer was moving on may be another
  // image's, and a donor serving them would be dropped as a liar.
  if (!valid() || (from_flash && flash_rewritten_.load()))
    return make_error(errc::invalid_argument, "the image being recovered here changed");
  return caf::none;
}

} // namespace fwrescue
