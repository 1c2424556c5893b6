#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

#include <caf/error.hpp>

namespace fwrescue {

/// Shape of a flash chip.
struct flash_geometry {
  uint64_t size = 0;
  /// Smallest erasable unit (a sector); erase offsets and lengths are multiples of it.
  uint32_t erase_size = 4096;
  /// Largest unit one program operation writes; programs never cross a page boundary.
  uint32_t program_size = 256;
};

/// Calls `fn(offset, part)` for each part of `data`, to be programmed at `offset`, that lies in
/// one page of `page_size` bytes and is not all 0xff (an erased page already reads so), in
/// order; stops at the first error `fn` returns and returns it.
template <class Fn>
caf::error for_each_page_to_program(uint32_t page_size, uint64_t offset,
                                    std::span<const uint8_t> data, Fn&& fn) {
  while (!data.empty()) {
    auto in_page =
      static_cast<size_t>(std::min<uint64_t>(page_size - offset % page_size, data.size()));
    auto part = data.first(in_page);
    if (!std::all_of(part.begin(), part.end(), [](uint8_t b) { return b == 0xff; }))
      if (auto err = fn(offset, part))
        return err;
    offset += in_page;
    data = data.subspan(in_page);
  }
  return caf::none;
}

/// A NOR flash chip: erase sets bytes to 0xff, program can only clear bits.
/// Implementations: hal/flash/file (a file emulating SPI NOR).
class flash {
public:
  virtual ~flash() = default;

  virtual flash_geometry geometry() const = 0;

  virtual caf::error read(uint64_t offset, std::span<uint8_t> out) = 0;

  /// Erases whole sectors: `offset` and `length` must be multiples of erase_size.
  virtual caf::error erase(uint64_t offset, uint64_t length) = 0;

  /// Programs `data` at `offset`; each byte becomes (old & new), as on a real chip, so
  /// programming over unerased data leaves bits a read-back will show.
  virtual caf::error program(uint64_t offset, std::span<const uint8_t> data) = 0;

  /// Programs `data` at `offset` page by page, as one program() per page (or part of a page at
  /// either end), skipping pages whose data is all 0xff (an erased page already reads so).
  /// Backends that can do it in fewer operations override it; the cells end up the same.
  virtual caf::error program_range(uint64_t offset, std::span<const uint8_t> data);

  /// Replaces whole sectors: erases [offset, offset + data.size()) (multiples of erase_size) and
  /// programs `data` there. The flasher writes through this alone, so a backend that talks to a
  /// programmer (which erases and programs in one operation) does it in one. Default: erase(),
  /// then program_range().
  virtual caf::error rewrite(uint64_t offset, std::span<const uint8_t> data);

  /// While protected, erase and program fail.
  virtual caf::error set_write_protect(bool on) = 0;
};

} // namespace fwrescue
