#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "messages/manifest.hpp"

namespace fwrescue {

/// An Ed25519 public key.
struct public_key {
  std::array<uint8_t, 32> bytes{};

  /// First 8 bytes of BLAKE2b-256 over the key: short enough to print, long enough to pick
  /// the right key from a handful.
  key_id id() const;

  friend bool operator==(const public_key&, const public_key&) = default;
};

/// An Ed25519 secret key in libsodium's form (seed followed by the public key). Wiped from
/// memory when destroyed.
class secret_key {
public:
  /// Derives the key pair from a 32-byte seed.
  explicit secret_key(const std::array<uint8_t, 32>& seed);
  secret_key(const secret_key&) = delete;
  secret_key& operator=(const secret_key&) = delete;
  secret_key(secret_key&&) noexcept;
  ~secret_key();

  /// A fresh key from the system's random source.
  static secret_key generate();

  const public_key& public_part() const {
    return public_;
  }

  signature sign(std::span<const uint8_t> message) const;

  /// The key file text: one line, `fwrescue-ed25519-secret <64 hex digits of the seed>`.
  std::string to_file_text() const;

private:
  std::array<uint8_t, 64> bytes_{};
  public_key public_;
};

/// True when `sig` is a valid Ed25519 signature of `message` by `key`.
bool verify_signature(const public_key& key, std::span<const uint8_t> message,
                      const signature& sig);

/// The key file text: one line, `fwrescue-ed25519-public <64 hex digits>`.
std::string to_file_text(const public_key& key);

/// Parses a public key file's text.
caf::expected<public_key> parse_public_key(std::string_view text);

/// Parses a secret key file's text.
caf::expected<secret_key> parse_secret_key(std::string_view text);

/// Reads a public key file; errors name the path.
caf::expected<public_key> load_public_key(const std::string& path);

/// Reads a secret key file; errors name the path.
caf::expected<secret_key> load_secret_key(const std::string& path);

} // namespace fwrescue
