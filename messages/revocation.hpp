#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include <caf/expected.hpp>

#include "messages/manifest.hpp"

namespace fwrescue {

/// An Ed25519 public key as it travels in a revocation list (32 bytes).
using raw_key = std::array<uint8_t, 32>;

/// The signed fields of a revocation list. Plain values; the encoding lives in revocation.cpp.
struct revocation_list {
  static constexpr uint16_t current_format_version = 1;

  uint16_t format_version = current_format_version;
  uint64_t serial = 0;
  int64_t created_at = 0;
  key_id signer_key_id{};
  /// Keys no longer trusted: release keys (their manifests are refused) and node keys (their
  /// offers and accepts are refused).
  std::vector<raw_key> keys;
  /// Images no longer accepted, by Merkle root.
  std::vector<digest> roots;

  friend bool operator==(const revocation_list&, const revocation_list&) = default;
};

/// A revocation list with its signature over the exact encoded body.
struct signed_revocations {
  std::vector<uint8_t> body;
  signature sig{};
  revocation_list fields;
};

namespace revocation_limits {
/// Keys and roots together. A list travels in one datagram (a node hands it to a peer that
/// asks with an older one), so it must fit 1400 bytes with its envelope.
constexpr size_t max_entries = 32;
constexpr size_t max_body_bytes = 1280;
constexpr size_t max_file_bytes = 1400;
} // namespace revocation_limits

/// Encodes the signed fields; the list must respect revocation_limits.
caf::expected<std::vector<uint8_t>> encode_revocation_body(const revocation_list& r);

/// Decodes and checks signed fields from untrusted bytes.
caf::expected<revocation_list> decode_revocation_body(std::span<const uint8_t> bytes);

/// The first bytes of every revocation list file.
constexpr std::array<uint8_t, 8> revocation_file_magic{'F', 'W', 'R', 'R', 'E', 'V', 'O', 'K'};

/// The file (and wire) form: the magic, then the body and its signature.
std::vector<uint8_t> encode_revocations_file(const signed_revocations& r);

/// Decodes a revocation list file from untrusted bytes (errc::malformed, naming what is wrong);
/// the signature is not checked here.
caf::expected<signed_revocations> decode_revocations_file(std::span<const uint8_t> bytes);

} // namespace fwrescue
