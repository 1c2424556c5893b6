#include "hal/flash/file.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"

namespace fwrescue {

caf::expected<std::unique_ptr<file_flash>>
file_flash::open(const std::string& path, const flash_geometry& shape) {
  auto erase_size = shape.erase_size;
  auto program_size = shape.program_size;
  if (erase_size == 0 || program_size == 0 || erase_size % program_size != 0)
    return make_error(errc::invalid_argument,
                      fmt::format("flash {}: erase size {} must be a non-zero multiple of the "
                                  "program size {}",
                                  path, erase_size, program_size));
  if (shape.block_erase_size % erase_size != 0)
    return make_error(errc::invalid_argument,
                      fmt::format("flash {}: block erase size {} must be 0 or a multiple of the "
                                  "erase size {}",
                                  path, shape.block_erase_size, erase_size));
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return make_error(errc::io_failure,
                      fmt::format("flash {}: cannot open: {}", path, std::strerror(errno)));
  // Owns fd until the object does, so every early return below closes it.
  auto geometry = shape;
  geometry.size = 0;
  std::unique_ptr<file_flash> result{new file_flash(path, fd, geometry)};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return make_error(errc::io_failure,
                      fmt::format("flash {}: cannot stat: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    return make_error(errc::invalid_argument, fmt::format("flash {}: not a regular file", path));
  auto size = static_cast<uint64_t>(st.st_size);
  if (size == 0)
    return make_error(errc::invalid_argument,
                      fmt::format("flash {}: the file is empty; create it with the chip's size "
                                  "(a multiple of the erase size {})",
                                  path, erase_size));
  if (size % erase_size != 0)
    return make_error(errc::invalid_argument,
                      fmt::format("flash {}: size {} is not a multiple of the erase size {}", path,
                                  size, erase_size));
  result->geometry_.size = size;
  result->erased_.assign(size / erase_size, false);
  return result;
}

file_flash::file_flash(std::string path, int fd, flash_geometry geometry)
  : path_(std::move(path)), fd_(fd), geometry_(geometry) {
}

file_flash::~file_flash() {
  // Don't retry close() on EINTR: on Linux the descriptor is released either way.
  ::close(fd_);
}

flash_geometry file_flash::geometry() const {
  return geometry_;
}

caf::error file_flash::read(uint64_t offset, std::span<uint8_t> out) {
  if (!in_chip(offset, out.size()))
    return refuse(fmt::format("read of {} bytes at 0x{:x} is outside the chip (size 0x{:x})",
                              out.size(), offset, geometry_.size));
  return read_at("read", offset, out);
}

caf::error file_flash::erase(uint64_t offset, uint64_t length) {
  if (write_protected_)
    return make_error(errc::io_failure, fmt::format("flash {}: write-protected", path_));
  if (offset % geometry_.erase_size != 0 || length % geometry_.erase_size != 0)
    return refuse(fmt::format("erase of 0x{:x} bytes at 0x{:x}: offset and length must be "
                              "multiples of the erase size 0x{:x}",
                              length, offset, geometry_.erase_size));
  if (!in_chip(offset, length))
    return refuse(fmt::format("erase of 0x{:x} bytes at 0x{:x} is outside the chip (size 0x{:x})",
                              length, offset, geometry_.size));
  // One write per megabyte, whatever the sector size; the timing model still counts sectors.
  const uint64_t chunk = std::max<uint64_t>(geometry_.erase_size, (1 << 20) / geometry_.erase_size
                                                                    * geometry_.erase_size);
  const std::vector<uint8_t> erased(std::min(chunk, length), 0xff);
  for (uint64_t at = offset; at < offset + length; at += chunk) {
    auto n = std::min(chunk, offset + length - at);
    if (auto err = write_at("erase", at, std::span{erased}.first(n)))
      return err;
  }
  mark(offset, length, true);
  // Aligned whole blocks take one block erase each; the sectors before the first and after the
  // last take one sector erase each.
  flash_op_counts ops;
  auto block = geometry_.block_erase_size;
  for (uint64_t at = offset; at < offset + length;) {
    if (block != 0 && at % block == 0 && offset + length - at >= block) {
      ++ops.block_erases;
      at += block;
    } else {
      ++ops.sector_erases;
      at += geometry_.erase_size;
    }
  }
  spend(ops);
  return caf::none;
}

caf::error file_flash::program(uint64_t offset, std::span<const uint8_t> data) {
  if (auto err = refuse_program(offset, data.size()))
    return err;
  if (data.empty())
    return caf::none;
  auto page = geometry_.program_size;
  if (offset / page != (offset + data.size() - 1) / page)
    return refuse(fmt::format("program of {} bytes at 0x{:x} crosses a page boundary (page size "
                              "{}); split it at multiples of the page size",
                              data.size(), offset, page));
  if (auto err = and_into(offset, data))
    return err;
  spend({0, 0, 1});
  return caf::none;
}

caf::error file_flash::program_range(uint64_t offset, std::span<const uint8_t> data) {
  if (auto err = refuse_program(offset, data.size()))
    return err;
  constexpr size_t chunk = 1 << 20;
  for (size_t done = 0; done < data.size(); done += chunk)
    if (auto err = and_into(offset + done, data.subspan(done, std::min(chunk, data.size() - done))))
      return err;
  // One program per page; pages of all 0xff are skipped, as the default program_range does.
  flash_op_counts ops;
  for_each_page_to_program(geometry_.program_size, offset, data, [&](uint64_t, auto) {
    ++ops.page_programs;
    return caf::error{};
  });
  spend(ops);
  return caf::none;
}

void file_flash::spend(const flash_op_counts& ops) {
  ops_.sector_erases += ops.sector_erases;
  ops_.block_erases += ops.block_erases;
  ops_.page_programs += ops.page_programs;
  // One sleep for the whole call: a sleep per operation would add the scheduler's wake-up
  // latency to every page.
  if (auto us = ops.chip_us(geometry_); us > 0)
    std::this_thread::sleep_for(std::chrono::microseconds{us});
}

std::optional<flash_op_counts> file_flash::op_counts() const {
  return ops_;
}

caf::error file_flash::and_into(uint64_t offset, std::span<const uint8_t> data) {
  // A NOR cell can only go from 1 to 0 when programmed: the result is old AND new. Over cells
  // known to be erased (all 1) that is the new data itself.
  if (all_erased(offset, data.size())) {
    mark(offset, data.size(), false);
    return write_at("program", offset, data);
  }
  std::vector<uint8_t> cells(data.size());
  if (auto err = read_at("program", offset, cells))
    return err;
  std::transform(cells.begin(), cells.end(), data.begin(), cells.begin(),
                 [](uint8_t old, uint8_t now) { return static_cast<uint8_t>(old & now); });
  mark(offset, data.size(), false);
  return write_at("program", offset, cells);
}

caf::error file_flash::refuse_program(uint64_t offset, uint64_t length) const {
  if (write_protected_)
    return make_error(errc::io_failure, fmt::format("flash {}: write-protected", path_));
  if (!in_chip(offset, length))
    return refuse(fmt::format("program of {} bytes at 0x{:x} is outside the chip (size 0x{:x})",
                              length, offset, geometry_.size));
  return caf::none;
}

std::pair<std::vector<bool>::iterator, std::vector<bool>::iterator>
file_flash::sectors_of(uint64_t offset, uint64_t length) {
  auto first = offset / geometry_.erase_size;
  auto end = length == 0 ? first : (offset + length - 1) / geometry_.erase_size + 1;
  return {erased_.begin() + static_cast<ptrdiff_t>(first),
          erased_.begin() + static_cast<ptrdiff_t>(end)};
}

bool file_flash::all_erased(uint64_t offset, uint64_t length) {
  auto [first, end] = sectors_of(offset, length);
  return std::all_of(first, end, [](bool erased) { return erased; });
}

void file_flash::mark(uint64_t offset, uint64_t length, bool erased) {
  auto [first, end] = sectors_of(offset, length);
  std::fill(first, end, erased);
}

caf::error file_flash::set_write_protect(bool on) {
  write_protected_ = on;
  // Nothing erased is remembered across a write session: the cells may change behind a
  // protected chip's back (another writer of the file), and then they are read again.
  if (on)
    erased_.assign(erased_.size(), false);
  return caf::none;
}

caf::error file_flash::sync() {
  if (::fdatasync(fd_) != 0)
    return make_error(errc::io_failure,
                      fmt::format("flash {}: sync: {}", path_, std::strerror(errno)));
  return caf::none;
}

caf::error file_flash::io_error(const char* op, uint64_t offset, int err) const {
  return make_error(errc::io_failure, fmt::format("flash {}: {} at 0x{:x}: {}", path_, op, offset,
                                                  std::strerror(err)));
}

caf::error file_flash::refuse(const std::string& what) const {
  return make_error(errc::invalid_argument, fmt::format("flash {}: {}", path_, what));
}

bool file_flash::in_chip(uint64_t offset, uint64_t length) const {
  return offset <= geometry_.size && length <= geometry_.size - offset;
}

caf::error file_flash::write_at(const char* op, uint64_t offset, std::span<const uint8_t> data) {
  auto io = pwrite_all(fd_, offset, data);
  return io.error ? io_error(op, io.at, io.error) : caf::none;
}

caf::error file_flash::read_at(const char* op, uint64_t offset, std::span<uint8_t> out) {
  auto io = pread_all(fd_, offset, out);
  if (io.error == positional_io::end_of_file)
    // Someone truncated the file under us: the chip no longer has the size it was opened with.
    return make_error(errc::io_failure,
                      fmt::format("flash {}: {} at 0x{:x}: unexpected end of file (the file "
                                  "was truncated after opening)",
                                  path_, op, io.at));
  return io.error ? io_error(op, io.at, io.error) : caf::none;
}

} // namespace fwrescue
