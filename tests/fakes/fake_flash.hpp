#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"
#include "hal/flash.hpp"

namespace fwrescue::test {

/// A flash chip in memory with the NOR rules of file_flash (erase → 0xff over whole sectors,
/// program ANDs and never crosses a page, bounds checked, write protect), counters of what was
/// done to it, and failures a test can inject. Header-only so any test can use it without a
/// library.
class fake_flash : public flash {
public:
  enum class op { read, erase, program };

  /// A chip of `size` bytes (a multiple of `erase_size`), fully erased.
  explicit fake_flash(uint64_t size, uint32_t erase_size = 4096, uint32_t program_size = 256)
    : geometry_{size, erase_size, program_size}, cells_(size, 0xff) {
  }

  flash_geometry geometry() const override {
    return geometry_;
  }

  /// Gives the chip a block erase of `block_size` bytes and datasheet times, for planners to
  /// plan with (the fake erases any whole sectors in one call, blocks or not).
  void set_timing(uint32_t block_size, uint32_t erase_us, uint32_t block_erase_us,
                  uint32_t program_us) {
    geometry_.block_erase_size = block_size;
    geometry_.erase_us = erase_us;
    geometry_.block_erase_us = block_erase_us;
    geometry_.program_us = program_us;
  }

  caf::error read(uint64_t offset, std::span<uint8_t> out) override {
    auto n = ++read_calls_;
    if (!in_chip(offset, out.size()))
      return refuse(
        fmt::format("read of {} bytes at 0x{:x} is outside the chip", out.size(), offset));
    if (injected(op::read, n))
      return injected_error("read", n, offset);
    std::copy_n(cells_.begin() + static_cast<ptrdiff_t>(offset), out.size(), out.begin());
    return caf::none;
  }

  caf::error erase(uint64_t offset, uint64_t length) override {
    auto n = ++erase_calls_;
    if (write_protected_)
      return make_error(errc::io_failure, "flash fake: write-protected");
    if (offset % geometry_.erase_size != 0 || length % geometry_.erase_size != 0)
      return refuse(
        fmt::format("erase of 0x{:x} bytes at 0x{:x} is not sector-aligned", length, offset));
    if (!in_chip(offset, length))
      return refuse(
        fmt::format("erase of 0x{:x} bytes at 0x{:x} is outside the chip", length, offset));
    if (injected(op::erase, n))
      return injected_error("erase", n, offset);
    std::fill_n(cells_.begin() + static_cast<ptrdiff_t>(offset), length, uint8_t{0xff});
    sectors_erased_ += length / geometry_.erase_size;
    if (after_erase)
      after_erase(offset, length);
    return caf::none;
  }

  caf::error program(uint64_t offset, std::span<const uint8_t> data) override {
    auto n = ++program_calls_;
    if (write_protected_)
      return make_error(errc::io_failure, "flash fake: write-protected");
    if (!in_chip(offset, data.size()))
      return refuse(
        fmt::format("program of {} bytes at 0x{:x} is outside the chip", data.size(), offset));
    if (data.empty())
      return caf::none;
    auto page = geometry_.program_size;
    if (offset / page != (offset + data.size() - 1) / page)
      return refuse(
        fmt::format("program of {} bytes at 0x{:x} crosses a page boundary", data.size(), offset));
    if (injected(op::program, n))
      return injected_error("program", n, offset);
    for (size_t i = 0; i < data.size(); ++i)
      cells_[offset + i] &= data[i];
    bytes_programmed_ += data.size();
    return caf::none;
  }

  caf::error set_write_protect(bool on) override {
    write_protected_ = on;
    return caf::none;
  }

  /// Makes the `nth` call (1-based, counted since construction, refused calls included) of `o`
  /// fail with an `errc::io_failure`, leaving the cells untouched, as a device error would.
  void fail_call(op o, uint64_t nth) {
    failures_.push_back({o, nth});
  }

  /// Called after each successful erase, e.g. to disturb cells elsewhere as a failing chip might.
  std::function<void(uint64_t offset, uint64_t length)> after_erase;

  /// The chip's cells, to preload an image or inspect the result.
  std::vector<uint8_t>& cells() {
    return cells_;
  }
  const std::vector<uint8_t>& cells() const {
    return cells_;
  }

  bool write_protected() const {
    return write_protected_;
  }
  uint64_t read_calls() const {
    return read_calls_;
  }
  uint64_t erase_calls() const {
    return erase_calls_;
  }
  /// Sectors erased by successful erase calls.
  uint64_t sectors_erased() const {
    return sectors_erased_;
  }
  uint64_t program_calls() const {
    return program_calls_;
  }
  /// Bytes written by successful program calls.
  uint64_t bytes_programmed() const {
    return bytes_programmed_;
  }

private:
  struct failure {
    op what;
    uint64_t nth;
  };

  bool in_chip(uint64_t offset, uint64_t length) const {
    return offset <= geometry_.size && length <= geometry_.size - offset;
  }

  bool injected(op o, uint64_t n) const {
    return std::any_of(failures_.begin(), failures_.end(),
                       [&](const failure& f) { return f.what == o && f.nth == n; });
  }

  static caf::error refuse(const std::string& what) {
    return make_error(errc::invalid_argument, "flash fake: " + what);
  }

  static caf::error injected_error(const char* name, uint64_t n, uint64_t offset) {
    return make_error(errc::io_failure, fmt::format("flash fake: {} at 0x{:x}: injected failure "
                                                    "of call #{}",
                                                    name, offset, n));
  }

  flash_geometry geometry_;
  std::vector<uint8_t> cells_;
  bool write_protected_ = false;
  std::vector<failure> failures_;
  uint64_t read_calls_ = 0;
  uint64_t erase_calls_ = 0;
  uint64_t sectors_erased_ = 0;
  uint64_t program_calls_ = 0;
  uint64_t bytes_programmed_ = 0;
};

} // namespace fwrescue::test
