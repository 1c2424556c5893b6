#include "hal/flash.hpp"

#include <algorithm>

namespace fwrescue {

caf::error flash::program_range(uint64_t offset, std::span<const uint8_t> data) {
  auto page = geometry().program_size;
  while (!data.empty()) {
    auto in_page = static_cast<size_t>(std::min<uint64_t>(page - offset % page, data.size()));
    auto chunk = data.first(in_page);
    if (!std::all_of(chunk.begin(), chunk.end(), [](uint8_t b) { return b == 0xff; }))
      if (auto err = program(offset, chunk))
        return err;
    offset += in_page;
    data = data.subspan(in_page);
  }
  return caf::none;
}

} // namespace fwrescue
