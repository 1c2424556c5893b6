#include "actors/flash_check.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

caf::expected<merkle_tree> hash_flash(flash& chip, uint64_t size, hash_algorithm alg,
                                      uint32_t block_size) {
  if (size == 0 || size > chip.geometry().size)
    return make_error(errc::invalid_argument,
                      fmt::format("image of {} bytes does not fit the {}-byte flash", size,
                                  chip.geometry().size));
  tree_builder builder{alg, block_size};
  std::vector<uint8_t> buf(std::min<uint64_t>(size, 1 << 20));
  for (uint64_t off = 0; off < size;) {
    auto n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    if (auto err = chip.read(off, {buf.data(), n}))
      return err;
    builder.update({buf.data(), n});
    off += n;
  }
  return std::move(builder).finish();
}

caf::expected<block_report> check_flash(flash& chip, const signed_manifest& m) {
  auto tree = hash_flash(chip, m.fields.image_size, m.fields.hash, m.fields.block_size);
  if (!tree)
    return std::move(tree.error());
  return compare_blocks(*tree, m);
}

} // namespace fwrescue
