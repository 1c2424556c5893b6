#pragma once

#include <cstdint>
#include <memory>

#include <caf/expected.hpp>

#include "hal/flash.hpp"

namespace fwrescue {

/// Where the image region lies on the chip, for reports that must say what was not checked.
/// A chip size of 0 means the region is the whole chip.
struct flash_layout {
  uint64_t chip_size = 0;
  uint64_t region_offset = 0;
};

/// The part of a flash chip that holds the image, seen as a chip of its own: offsets start at
/// the region's first byte, and nothing outside it can be read, erased or programmed through it.
/// On x86 the BIOS region ends at the top of the chip (where the CPU starts) and other regions
/// (descriptor, management engine) lie below; they are not the image's, and a recovery must
/// neither check nor write them.
class region_flash : public flash {
public:
  /// The bytes [offset, offset + size) of `chip`; size 0 means to the end of the chip. Both
  /// must be whole sectors and lie within the chip.
  static caf::expected<std::unique_ptr<region_flash>> open(std::shared_ptr<flash> chip,
                                                           uint64_t offset, uint64_t size);

  flash_geometry geometry() const override;
  caf::error read(uint64_t offset, std::span<uint8_t> out) override;
  caf::error erase(uint64_t offset, uint64_t length) override;
  caf::error program(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error program_range(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error rewrite(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error set_write_protect(bool on) override;
  std::optional<flash_op_counts> op_counts() const override;

private:
  region_flash(std::shared_ptr<flash> chip, uint64_t offset, uint64_t size);

  /// The error for an access past the region's end, which the chip itself would allow.
  caf::error outside(const char* op, uint64_t offset, uint64_t length) const;

  bool inside(uint64_t offset, uint64_t length) const {
    return offset <= size_ && length <= size_ - offset;
  }

  std::shared_ptr<flash> chip_;
  uint64_t offset_;
  uint64_t size_;
};

} // namespace fwrescue
