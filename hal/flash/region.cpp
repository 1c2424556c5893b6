#include "hal/flash/region.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

caf::expected<std::unique_ptr<region_flash>> region_flash::open(std::shared_ptr<flash> chip,
                                                                uint64_t offset, uint64_t size) {
  auto geo = chip->geometry();
  if (size == 0 && offset < geo.size)
    size = geo.size - offset;
  if (offset % geo.erase_size != 0 || size % geo.erase_size != 0)
    return make_error(errc::invalid_argument,
                      fmt::format("flash region {:#x}+{:#x}: not whole {}-byte sectors", offset,
                                  size, geo.erase_size));
  if (offset >= geo.size || size > geo.size - offset)
    return make_error(errc::invalid_argument,
                      fmt::format("flash region {:#x}+{:#x} lies outside the {:#x}-byte chip",
                                  offset, size, geo.size));
  return std::unique_ptr<region_flash>{new region_flash(std::move(chip), offset, size)};
}

region_flash::region_flash(std::shared_ptr<flash> chip, uint64_t offset, uint64_t size)
  : chip_(std::move(chip)), offset_(offset), size_(size) {
}

flash_geometry region_flash::geometry() const {
  auto geo = chip_->geometry();
  geo.size = size_;
  // The chip's blocks are aligned on the chip; a region starting inside one sees none whole at
  // the offsets a planner would pick, so it plans sector by sector.
  if (geo.block_erase_size != 0 && offset_ % geo.block_erase_size != 0)
    geo.block_erase_size = 0;
  return geo;
}

caf::error region_flash::outside(const char* op, uint64_t offset, uint64_t length) const {
  return make_error(errc::invalid_argument,
                    fmt::format("flash: {} of {} bytes at {:#x} of the image region reaches past "
                                "its end ({:#x} bytes from chip offset {:#x})",
                                op, length, offset, size_, offset_));
}

caf::error region_flash::read(uint64_t offset, std::span<uint8_t> out) {
  if (!inside(offset, out.size()))
    return outside("read", offset, out.size());
  return chip_->read(offset_ + offset, out);
}

caf::error region_flash::erase(uint64_t offset, uint64_t length) {
  if (!inside(offset, length))
    return outside("erase", offset, length);
  return chip_->erase(offset_ + offset, length);
}

caf::error region_flash::program(uint64_t offset, std::span<const uint8_t> data) {
  if (!inside(offset, data.size()))
    return outside("program", offset, data.size());
  return chip_->program(offset_ + offset, data);
}

caf::error region_flash::program_range(uint64_t offset, std::span<const uint8_t> data) {
  if (!inside(offset, data.size()))
    return outside("program", offset, data.size());
  return chip_->program_range(offset_ + offset, data);
}

caf::error region_flash::rewrite(uint64_t offset, std::span<const uint8_t> data) {
  if (!inside(offset, data.size()))
    return outside("rewrite", offset, data.size());
  return chip_->rewrite(offset_ + offset, data);
}

caf::error region_flash::set_write_protect(bool on) {
  return chip_->set_write_protect(on);
}

std::optional<flash_op_counts> region_flash::op_counts() const {
  return chip_->op_counts();
}

} // namespace fwrescue
