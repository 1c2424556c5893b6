#pragma once

#include <span>
#include <string>

#include <caf/expected.hpp>

#include "image/keys.hpp"
#include "image/merkle.hpp"
#include "messages/manifest.hpp"

namespace fwrescue {

/// An image's Merkle tree and the number of bytes it covers.
struct hashed_image {
  merkle_tree tree;
  uint64_t size;
};

/// Hashes the image file `path` into a Merkle tree with the given block size; one pass, one
/// reused read buffer, blocks hashed on `threads` threads. The error names the path.
caf::expected<hashed_image> hash_image_file(const std::string& path, hash_algorithm alg,
                                            uint32_t block_size, unsigned threads = 1);

/// Completes `fields` with the tree's root and the signer's key id, encodes the body and signs
/// it. `fields` carries platform, version, svn, image size, block size, hash and creation time.
caf::expected<signed_manifest> sign_manifest(const secret_key& key, manifest fields,
                                             const merkle_tree& tree);

/// Finds the key that signed `m` among `trusted` and checks the signature over the exact body.
/// Errors: `errc::unknown_key` when no trusted key has the manifest's key id,
/// `errc::bad_signature` when the signature does not verify.
caf::expected<public_key> check_signature(const signed_manifest& m,
                                          std::span<const public_key> trusted);

/// Builds the tree over a manifest file's block digest list and checks that it has the signed
/// root, so the list can be used to name bad blocks. The list must not be empty.
caf::expected<merkle_tree> block_digest_tree(const signed_manifest& m);

/// Checks one block received from an untrusted source against a manifest whose signature was
/// already checked: its length, then its digest through `path` to the signed root.
bool verify_block(const manifest& m, uint64_t index, std::span<const uint8_t> block,
                  std::span<const digest> path);

} // namespace fwrescue
