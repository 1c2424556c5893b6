#include "hal/flash.hpp"

#include <vector>

#include "hal/flash/erase_plan.hpp"

namespace fwrescue {

caf::error flash::program_range(uint64_t offset, std::span<const uint8_t> data) {
  return for_each_page_to_program(
    geometry().program_size, offset, data,
    [this](uint64_t at, std::span<const uint8_t> part) { return program(at, part); });
}

caf::error flash::rewrite(uint64_t offset, std::span<const uint8_t> data) {
  auto geo = geometry();
  // Where the chip's erase time is known, a sector that already reads all 0xff is not erased:
  // programming it gives exactly the data, and reading it costs far less than the 45 ms or so
  // an erase takes (a full rewrite of an erased chip is then programs only). Without the figure
  // the range is erased unread, as the flasher avoids reading sectors it knows will change.
  if (geo.erase_us == 0 || geo.erase_size == 0 || offset % geo.erase_size != 0
      || data.size() % geo.erase_size != 0) {
    if (auto err = erase(offset, data.size()))
      return err;
    return program_range(offset, data);
  }
  auto sectors = data.size() / geo.erase_size;
  std::vector<bool> erase_it(sectors, false);
  std::vector<uint8_t> current(std::min<size_t>(data.size(), size_t{1} << 20));
  for (size_t done = 0; done < data.size(); done += current.size()) {
    auto part = std::span{current}.first(std::min(current.size(), data.size() - done));
    if (auto err = read(offset + done, part))
      return err;
    for (size_t at = 0; at < part.size(); at += geo.erase_size) {
      auto sector = part.subspan(at, geo.erase_size);
      erase_it[(done + at) / geo.erase_size] =
        !std::all_of(sector.begin(), sector.end(), [](uint8_t b) { return b == 0xff; });
    }
  }
  // A block whose sectors to erase cost more one by one than the block at once is erased whole
  // (erase() of a range holding a whole aligned block uses the block erase).
  if (geo.block_erase_size != 0 && geo.block_erase_size % geo.erase_size == 0) {
    uint64_t per_block = geo.block_erase_size / geo.erase_size;
    uint64_t first = offset / geo.erase_size;
    for (uint64_t b = (first + per_block - 1) / per_block * per_block;
         b + per_block <= first + sectors; b += per_block) {
      auto from = erase_it.begin() + static_cast<ptrdiff_t>(b - first);
      auto to = from + static_cast<ptrdiff_t>(per_block);
      auto count = static_cast<uint64_t>(std::count(from, to, true));
      if (count > 0 && block_erase_may_pay(geo, count))
        std::fill(from, to, true);
    }
  }
  for (size_t s = 0; s < sectors;) {
    if (!erase_it[s]) {
      ++s;
      continue;
    }
    auto end = s;
    while (end < sectors && erase_it[end])
      ++end;
    if (auto err = erase(offset + s * geo.erase_size, (end - s) * geo.erase_size))
      return err;
    s = end;
  }
  return program_range(offset, data);
}

} // namespace fwrescue
