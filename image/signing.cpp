#include "image/signing.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/hex.hpp"

namespace fwrescue {

namespace {

/// Large enough that read() overhead vanishes next to hashing, small enough to stay in cache.
constexpr size_t read_chunk = 1 << 20;

} // namespace

caf::expected<hashed_image> hash_image_file(const std::string& path, hash_algorithm alg,
                                            uint32_t block_size, unsigned threads) {
  tree_builder builder{alg, block_size, threads};
  auto size = stream_file(
    path, read_chunk, [&](std::span<const uint8_t> chunk) { builder.update(chunk); }, "image");
  if (!size)
    return std::move(size.error());
  if (*size == 0)
    return make_error(errc::invalid_argument, fmt::format("image {}: file is empty", path));
  return hashed_image{std::move(builder).finish(), *size};
}

caf::expected<signed_manifest> sign_manifest(const secret_key& key, manifest fields,
                                             const merkle_tree& tree) {
  fields.merkle_root = tree.root();
  fields.signer_key_id = key.public_part().id();
  fields.hash = tree.algorithm();
  fields.format_version = manifest::format_version_for(fields.component);
  if (auto err = validate(fields))
    return err;
  if (tree.leaf_count() != fields.block_count())
    return make_error(errc::invalid_argument,
                      fmt::format("tree has {} leaves, the manifest describes {} blocks",
                                  tree.leaf_count(), fields.block_count()));
  signed_manifest out;
  out.body = encode_body(fields);
  out.sig = key.sign(out.body);
  out.fields = std::move(fields);
  out.block_digests.assign(tree.leaves().begin(), tree.leaves().end());
  return out;
}

caf::expected<public_key> check_signature(const signed_manifest& m,
                                          std::span<const public_key> trusted) {
  // Ids are short, so two trusted keys may share one: try every key with the id.
  bool id_known = false;
  for (const auto& key : trusted) {
    if (key.id() != m.fields.signer_key_id)
      continue;
    id_known = true;
    if (verify_signature(key, m.body, m.sig))
      return key;
  }
  if (id_known)
    return make_error(errc::bad_signature, fmt::format("signature does not verify with key {}",
                                                       to_hex(m.fields.signer_key_id)));
  return make_error(errc::unknown_key,
                    fmt::format("signed by key {}, which is not among the {} trusted key(s)",
                                to_hex(m.fields.signer_key_id), trusted.size()));
}

caf::expected<merkle_tree> block_digest_tree(const signed_manifest& m) {
  if (m.block_digests.empty())
    return make_error(errc::invalid_argument, "the manifest carries no block digests");
  merkle_tree tree{m.fields.hash, m.block_digests};
  if (tree.root() != m.fields.merkle_root)
    return make_error(errc::malformed, "malformed manifest: its block digest list does not "
                                       "build the signed Merkle root");
  return tree;
}

bool verify_block(const manifest& m, uint64_t index, std::span<const uint8_t> block,
                  std::span<const digest> path) {
  if (index >= m.block_count() || block.size() != m.block_length(index))
    return false;
  return verify_auth_path(m.hash, m.block_count(), index, leaf_digest(m.hash, index, block), path,
                          m.merkle_root);
}

} // namespace fwrescue
