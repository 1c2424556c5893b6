#include "actors/flash_check.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

caf::expected<merkle_tree> hash_flash(flash& chip, uint64_t size, hash_algorithm alg,
                                      uint32_t block_size, unsigned threads) {
  if (size == 0 || size > chip.geometry().size)
    return make_error(
      errc::invalid_argument,
      fmt::format("image of {} bytes does not fit the {}-byte flash", size, chip.geometry().size));
  tree_builder builder{alg, block_size, threads};
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

caf::expected<block_report> check_flash(flash& chip, const signed_manifest& m, unsigned threads) {
  auto tree = hash_flash(chip, m.fields.image_size, m.fields.hash, m.fields.block_size, threads);
  if (!tree)
    return std::move(tree.error());
  return compare_blocks(*tree, m);
}

flash_report flash_report_for(const signed_manifest& m, const caf::expected<block_report>& blocks,
                              const char* against) {
  flash_report report;
  report.checked = true;
  report.root = m.fields.merkle_root;
  report.block_count = m.fields.block_count();
  if (!blocks) {
    report.bad = {{0, report.block_count}};
    report.detail = describe(blocks.error());
    return report;
  }
  report.bad = blocks->bad;
  if (blocks->ok()) {
    report.detail = fmt::format("flash matches {} {} svn {} ({} blocks)", m.fields.version,
                                m.fields.platform.board, m.fields.svn, report.block_count);
  } else {
    auto first = report.bad.front().first;
    report.detail = fmt::format("{} of {} blocks do not match {}, first bad block {} at {:#x}",
                                blocks->bad_blocks(), report.block_count, against, first,
                                first * m.fields.block_size);
  }
  return report;
}

} // namespace fwrescue
