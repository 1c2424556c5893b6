#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "image/keys.hpp"
#include "image/merkle.hpp"
#include "messages/manifest.hpp"

namespace fwrescue {

/// Which blocks of an image differ from a manifest.
struct block_report {
  uint64_t block_count = 0;
  /// Bad leaf ranges, in order; empty when every block matches.
  std::vector<leaf_range> bad;
  /// False when the manifest carried no block digests, so the bad blocks could not be told apart.
  bool named = true;

  uint64_t bad_blocks() const;
  bool ok() const {
    return bad.empty();
  }
};

/// Compares an image's tree with a manifest whose signature was checked. The manifest's block
/// digest list, when it carries one, must build the signed root, even when the image matches:
/// a list altered after signing is an error however the image compares. It then names the bad
/// blocks. Without a list, every block is reported bad (`named` false).
caf::expected<block_report> compare_blocks(const merkle_tree& image, const signed_manifest& m);

/// The outcome of checking an image file against a manifest.
struct image_verdict {
  enum class outcome { ok, signature, manifest, size, content };
  outcome result = outcome::ok;
  /// The key that signed the manifest, when the signature verified.
  std::optional<public_key> signer;
  /// Filled for outcome::content.
  block_report blocks;
  /// One line saying what does not match (empty for outcome::ok).
  std::string detail;
};

/// Checks the manifest file (its signature, and that its block digest list, when it carries one,
/// builds the signed root), then the size and content of the image file at `image_path`, in
/// that order, and stops at the first mismatch. Errors (rather than a verdict) mean the inputs could not be
/// read or are malformed.
caf::expected<image_verdict> verify_image_file(const signed_manifest& m,
                                               std::span<const public_key> trusted,
                                               const std::string& image_path);

} // namespace fwrescue
