#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

namespace fwrescue {

/// Hash functions a manifest may name. Both produce 32-byte digests.
enum class hash_algorithm : uint8_t { blake2b_256 = 0, sha256 = 1 };

/// The name used on the command line and in text output ("blake2b", "sha256").
const char* to_string(hash_algorithm alg);

/// A 32-byte digest (BLAKE2b-256 or SHA-256).
using digest = std::array<uint8_t, 32>;

/// Short identifier of a signing key: the first 8 bytes of BLAKE2b-256 over the public key.
using key_id = std::array<uint8_t, 8>;

/// An Ed25519 signature.
using signature = std::array<uint8_t, 64>;

/// Which boards an image is built for.
struct platform_id {
  std::string vendor;
  std::string board;

  friend bool operator==(const platform_id&, const platform_id&) = default;
};

/// The component a manifest names when it names none: manifests signed before components
/// existed were all for the BIOS flash.
inline constexpr const char* default_component = "bios";

/// A component name ("bios", "nic", "cpld", "bmc"): 1 to 32 characters of [a-z0-9-]. The
/// manifest, the configuration and the wire protocol share the rule, so names compare exactly.
bool valid_component(std::string_view name);

/// The manifest fields that are signed. Plain values; the Cap'n Proto encoding lives in
/// manifest.cpp only.
struct manifest {
  static constexpr uint16_t current_format_version = 1;
  /// A manifest for any component but the BIOS carries this version, so that a node built
  /// before components existed (it reads version 1 only) refuses it rather than taking another
  /// component's image for its BIOS.
  static constexpr uint16_t component_format_version = 2;
  static uint16_t format_version_for(std::string_view component) {
    return component == default_component ? current_format_version : component_format_version;
  }

  uint16_t format_version = current_format_version;
  platform_id platform;
  std::string version;
  uint32_t svn = 0;
  uint64_t image_size = 0;
  uint32_t block_size = 4096;
  hash_algorithm hash = hash_algorithm::blake2b_256;
  digest merkle_root{};
  key_id signer_key_id{};
  int64_t created_at = 0;
  /// The firmware target the image may be written to; never another's flash.
  std::string component = default_component;

  /// Number of blocks; the last one is shorter when the size is not a multiple of the block size.
  uint64_t block_count() const {
    return (image_size + block_size - 1) / block_size;
  }

  /// Size of block `index` in bytes.
  uint32_t block_length(uint64_t index) const;

  friend bool operator==(const manifest&, const manifest&) = default;
};

/// A manifest as it travels and is stored: the exact signed bytes, the signature, the decoded
/// fields, and optionally the digest of every block.
struct signed_manifest {
  std::vector<uint8_t> body;
  signature sig{};
  manifest fields;
  /// Empty, or one digest per block. Not signed: trust it only after checking it against the root.
  std::vector<digest> block_digests;
};

/// Limits every decoder enforces. They bound what an untrusted peer can make us allocate.
namespace manifest_limits {
constexpr size_t max_text = 64;
constexpr size_t max_component = 32;
constexpr uint32_t min_block_size = 512;
constexpr uint32_t max_block_size = 1u << 20;
constexpr uint64_t max_image_size = 1ull << 30;
constexpr uint64_t max_blocks = 1ull << 21;
constexpr size_t max_body_bytes = 4096;
constexpr size_t max_file_bytes = max_blocks * sizeof(digest) + 2 * max_body_bytes;
} // namespace manifest_limits

/// Checks every field against the format's rules; the error names the field.
caf::error validate(const manifest& m);

/// Encodes the signed fields. `m` must pass `validate`.
std::vector<uint8_t> encode_body(const manifest& m);

/// Decodes and validates signed fields from untrusted bytes.
caf::expected<manifest> decode_body(std::span<const uint8_t> bytes);

/// The first bytes of every manifest file.
constexpr std::array<uint8_t, 8> manifest_file_magic{'F', 'W', 'R', 'M', 'A', 'N', 'I', 'F'};

/// Encodes a manifest file: magic, then a SignedManifest message.
std::vector<uint8_t> encode_manifest_file(const signed_manifest& m);

/// Decodes a manifest file from untrusted bytes. Checks structure and limits, not the signature.
caf::expected<signed_manifest> decode_manifest_file(std::span<const uint8_t> bytes);

} // namespace fwrescue
