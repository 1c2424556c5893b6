#include "image/image_check.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "image/signing.hpp"

namespace fwrescue {

uint64_t block_report::bad_blocks() const {
  uint64_t n = 0;
  for (const auto& r : bad)
    n += r.size();
  return n;
}

caf::expected<block_report> compare_blocks(const merkle_tree& image, const signed_manifest& m) {
  block_report report;
  report.block_count = m.fields.block_count();
  bool matches = image.leaf_count() == report.block_count && image.root() == m.fields.merkle_root;
  if (m.block_digests.empty()) {
    if (!matches) {
      report.named = false;
      report.bad.push_back({0, report.block_count});
    }
    return report;
  }
  // The unsigned list is trusted only once it builds the signed root; then comparing against it
  // names exactly the blocks whose content differs. It is checked even when the image matches,
  // so that nothing which reads the list later (the donor sends it to recipients) trusts an
  // altered one.
  auto expected = block_digest_tree(m);
  if (!expected)
    return std::move(expected.error());
  if (!matches)
    report.bad = diff(image, *expected);
  return report;
}

caf::expected<image_verdict> verify_image_file(const signed_manifest& m,
                                               std::span<const public_key> trusted,
                                               const std::string& image_path) {
  image_verdict verdict;
  auto signer = check_signature(m, trusted);
  if (!signer) {
    verdict.result = image_verdict::outcome::signature;
    verdict.detail = "signature: " + describe(signer.error());
    return verdict;
  }
  verdict.signer = *signer;
  if (!m.block_digests.empty() && !block_digest_tree(m)) {
    verdict.result = image_verdict::outcome::manifest;
    verdict.detail = "manifest: its block digest list does not build the signed Merkle root "
                     "(the file was altered after signing)";
    return verdict;
  }
  auto size = file_size(image_path, "image");
  if (!size)
    return std::move(size.error());
  if (*size != m.fields.image_size) {
    verdict.result = image_verdict::outcome::size;
    verdict.detail = fmt::format("size: image is {} bytes, the manifest says {}", *size,
                                 m.fields.image_size);
    return verdict;
  }
  auto image = hash_image_file(image_path, m.fields.hash, m.fields.block_size);
  if (!image)
    return std::move(image.error());
  if (image->size != m.fields.image_size) {
    verdict.result = image_verdict::outcome::size;
    verdict.detail = fmt::format("size: image changed while being read ({} bytes, the manifest "
                                 "says {})",
                                 image->size, m.fields.image_size);
    return verdict;
  }
  auto blocks = compare_blocks(image->tree, m);
  if (!blocks)
    return std::move(blocks.error());
  verdict.blocks = std::move(*blocks);
  if (!verdict.blocks.ok() && !verdict.blocks.named) {
    verdict.result = image_verdict::outcome::content;
    verdict.detail = "content: does not match the signed Merkle root (the manifest carries no "
                     "block digests, so the bad blocks cannot be named)";
  } else if (!verdict.blocks.ok()) {
    auto first = verdict.blocks.bad.front().first;
    verdict.result = image_verdict::outcome::content;
    verdict.detail = fmt::format("content: {} of {} blocks do not match, first bad block {} at "
                                 "{:#x}",
                                 verdict.blocks.bad_blocks(), verdict.blocks.block_count, first,
                                 first * m.fields.block_size);
  }
  return verdict;
}

} // namespace fwrescue
