#include "hal/flash.hpp"

namespace fwrescue {

caf::error flash::program_range(uint64_t offset, std::span<const uint8_t> data) {
  return for_each_page_to_program(
    geometry().program_size, offset, data,
    [this](uint64_t at, std::span<const uint8_t> part) { return program(at, part); });
}

caf::error flash::rewrite(uint64_t offset, std::span<const uint8_t> data) {
  if (auto err = erase(offset, data.size()))
    return err;
  return program_range(offset, data);
}

} // namespace fwrescue
