// Fuzzes the manifest decoders (messages/manifest.hpp) and the check of a manifest file's
// block digest list (block_digest_tree, image/signing.hpp). Manifest files come from operators,
// the console and nv_store; manifest bodies arrive inside offers.
//
// Every input is tried both as a whole manifest file and as a bare signed body. Besides "does
// not crash", for whatever decodes:
// - it encodes, and decodes again to the same value (file: same bytes too);
// - a decoded body passes validate();
// - block_digest_tree accepts the list exactly when its tree has the signed root; with the
//   root replaced by the list's own, it is accepted, and every leaf's authentication path
//   verifies while a changed leaf's does not (verify_auth_path, image/merkle.hpp).

#include <algorithm>
#include <cstdint>
#include <span>

#include "fuzz/fuzz_check.hpp"
#include "image/hash.hpp"
#include "image/merkle.hpp"
#include "image/signing.hpp"
#include "messages/manifest.hpp"

namespace fwrescue::fuzz {
namespace {

/// Authentication paths checked per input: enough for the first, last and a middle leaf
/// without making large lists slow.
constexpr uint64_t max_paths = 8;

void check_body(std::span<const uint8_t> bytes) {
  auto m = decode_body(bytes);
  if (!m)
    return;
  check(!validate(*m), "a decoded body is valid");
  auto again = decode_body(encode_body(*m));
  check(again && *again == *m, "decode_body(encode_body(m)) == m");
}

void check_tree(signed_manifest m) {
  auto tree = block_digest_tree(m);
  merkle_tree own{m.fields.hash, m.block_digests};
  check(static_cast<bool>(tree) == (own.root() == m.fields.merkle_root),
        "block_digest_tree accepts exactly the lists that build the signed root");
  m.fields.merkle_root = own.root();
  tree = block_digest_tree(m);
  check(tree && tree->leaf_count() == m.fields.block_count(), "a list building its root passes");

  auto count = tree->leaf_count();
  auto step = std::max<uint64_t>(1, count / max_paths);
  for (uint64_t i = 0; i < count; i += step) {
    auto path = tree->auth_path(i);
    const auto& leaf = m.block_digests[i];
    check(verify_auth_path(m.fields.hash, count, i, leaf, path, own.root()),
          "every leaf's authentication path verifies");
    auto changed = leaf;
    changed[i % changed.size()] ^= 1;
    check(!verify_auth_path(m.fields.hash, count, i, changed, path, own.root()),
          "a changed leaf does not verify");
  }
}

void check_file(std::span<const uint8_t> bytes) {
  auto m = decode_manifest_file(bytes);
  if (!m)
    return;
  auto encoded = encode_manifest_file(*m);
  auto again = decode_manifest_file(encoded);
  check(static_cast<bool>(again), "an encoded manifest file decodes");
  check(again->body == m->body && again->sig == m->sig && again->fields == m->fields
          && again->block_digests == m->block_digests,
        "decode(encode(m)) == m");
  check(encode_manifest_file(*again) == encoded, "encoding is deterministic");
  if (!m->block_digests.empty())
    check_tree(std::move(*m));
}

} // namespace
} // namespace fwrescue::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!fwrescue::init_crypto())
    __builtin_trap();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes{data, size};
  fwrescue::fuzz::check_file(bytes);
  fwrescue::fuzz::check_body(bytes);
  return 0;
}
