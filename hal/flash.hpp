#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
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
  /// A larger unit the chip also erases in one operation (a 64 KiB block on SPI NOR), aligned
  /// to its own size: a multiple of erase_size, or 0 when the chip has none (or it is unknown).
  uint32_t block_erase_size = 0;
  /// Typical durations of the chip's operations in microseconds, as its datasheet gives them:
  /// one sector erase, one block erase, one page program. 0 when unknown; a planner that knows
  /// none of them erases sector by sector.
  uint32_t erase_us = 0;
  uint32_t block_erase_us = 0;
  uint32_t program_us = 0;
};

/// Operations a chip has done, for reports and benchmarks: what a write cost in the chip's own
/// terms, whatever the backend made of it.
struct flash_op_counts {
  uint64_t sector_erases = 0;
  uint64_t block_erases = 0;
  uint64_t page_programs = 0;

  /// The chip's own time for these operations by `geo`'s datasheet figures, in microseconds.
  uint64_t chip_us(const flash_geometry& geo) const {
    return sector_erases * geo.erase_us + block_erases * geo.block_erase_us
           + page_programs * geo.program_us;
  }

  flash_op_counts operator-(const flash_op_counts& o) const {
    return {sector_erases - o.sector_erases, block_erases - o.block_erases,
            page_programs - o.page_programs};
  }
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
  /// then program_range(); where the geometry gives the erase time, sectors that already read
  /// all 0xff are not erased (a block whole where that is cheaper, as erase() does).
  virtual caf::error rewrite(uint64_t offset, std::span<const uint8_t> data);

  /// While protected, erase and program fail.
  virtual caf::error set_write_protect(bool on) = 0;

  /// The operations done since the chip was opened, when the backend counts them (the file
  /// backend does; a programmer that plans its own erases does not say).
  virtual std::optional<flash_op_counts> op_counts() const {
    return std::nullopt;
  }
};

} // namespace fwrescue
