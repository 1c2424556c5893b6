#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "hal/flash.hpp"

namespace fwrescue {

/// A regular file emulating a SPI NOR chip of the file's size: erase writes 0xff over whole
/// sectors, program ANDs the data into the current bytes and never crosses a page. An erase or a
/// program_range costs one pwrite per megabyte (and program_range one pread as well), however
/// many sectors or pages it covers; `sync()` makes them durable.
///
/// An erase covers each aligned whole block of `block_erase_size` in its range with one block
/// erase and the rest with sector erases, as a chip's command set does; every operation is
/// counted (op_counts()). The optional timing model sleeps the geometry's `erase_us` per sector
/// erase, `block_erase_us` per block erase and `program_us` per page programmed, a datasheet's
/// typical times, so that tests, demos and benchmarks see a chip's durations.
class file_flash : public flash {
public:
  /// Opens an existing, non-empty file whose size is a multiple of `shape.erase_size`; the
  /// chip's size is the file's (`shape.size` is not used). `erase_size` must be a non-zero
  /// multiple of the non-zero `program_size`, and `block_erase_size` 0 or a multiple of
  /// `erase_size`.
  static caf::expected<std::unique_ptr<file_flash>> open(const std::string& path,
                                                         const flash_geometry& shape);

  file_flash(const file_flash&) = delete;
  file_flash& operator=(const file_flash&) = delete;
  ~file_flash() override;

  flash_geometry geometry() const override;
  caf::error read(uint64_t offset, std::span<uint8_t> out) override;
  caf::error erase(uint64_t offset, uint64_t length) override;
  caf::error program(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error program_range(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error set_write_protect(bool on) override;
  std::optional<flash_op_counts> op_counts() const override;

  /// Flushes written data to the device (fdatasync).
  caf::error sync();

  const std::string& path() const {
    return path_;
  }

private:
  file_flash(std::string path, int fd, flash_geometry geometry);

  /// Sleeps the model's time for `ops`, and counts them.
  void spend(const flash_op_counts& ops);

  /// The error for a failed system call: "flash <path>: <op> at 0x<offset>: <strerror>".
  caf::error io_error(const char* op, uint64_t offset, int err) const;

  /// The error for a request the chip would reject.
  caf::error refuse(const std::string& what) const;

  /// Old AND new over [offset, offset + data.size()), one read and one write; the caller has
  /// checked the range.
  caf::error and_into(uint64_t offset, std::span<const uint8_t> data);

  /// The error for a program over [offset, offset + length) while protected or outside the chip.
  caf::error refuse_program(uint64_t offset, uint64_t length) const;

  /// The erased_ marks of the sectors [offset, offset + length) touches.
  std::pair<std::vector<bool>::iterator, std::vector<bool>::iterator> sectors_of(uint64_t offset,
                                                                                 uint64_t length);
  /// Whether every sector [offset, offset + length) touches is marked erased.
  bool all_erased(uint64_t offset, uint64_t length);
  void mark(uint64_t offset, uint64_t length, bool erased);

  /// Whether [offset, offset + length) lies within the chip, without overflowing.
  bool in_chip(uint64_t offset, uint64_t length) const;

  /// pwrite/pread of the whole buffer, retrying on EINTR and short transfers.
  caf::error write_at(const char* op, uint64_t offset, std::span<const uint8_t> data);
  caf::error read_at(const char* op, uint64_t offset, std::span<uint8_t> out);

  std::string path_;
  int fd_;
  flash_geometry geometry_;
  flash_op_counts ops_;
  bool write_protected_ = false;
  /// Per sector: erased by this object and not programmed since, so it reads all 0xff and a
  /// program can write its data without reading the cells first. Only a shortcut: a sector not
  /// marked is read, ANDed and written back.
  std::vector<bool> erased_;
};

} // namespace fwrescue
