#include "image/keys.hpp"

#include <sodium.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/hex.hpp"
#include "image/hash.hpp"

namespace fwrescue {

namespace {

constexpr std::string_view public_tag = "fwrescue-ed25519-public";
constexpr std::string_view secret_tag = "fwrescue-ed25519-secret";
constexpr uint64_t max_key_file = 1024;

/// Returns the 32 bytes after `tag ` in a one-line key file, tolerating a trailing newline.
caf::expected<std::array<uint8_t, 32>> parse_key_line(std::string_view text,
                                                      std::string_view tag, const char* what) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.remove_suffix(1);
  auto malformed = [&](const std::string& why) {
    return make_error(errc::malformed, fmt::format("not a {} file: {}", what, why));
  };
  if (text.size() < tag.size() + 1 || text.substr(0, tag.size()) != tag
      || text[tag.size()] != ' ')
    return malformed(fmt::format("it does not start with \"{} \"", tag));
  auto bytes = from_hex(text.substr(tag.size() + 1));
  if (!bytes || bytes->size() != 32)
    return malformed("expected 64 hexadecimal digits after the tag");
  std::array<uint8_t, 32> out;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  sodium_memzero(bytes->data(), bytes->size());
  return out;
}

template <class T, class Parse>
caf::expected<T> load_key(const std::string& path, const char* what, Parse parse) {
  auto bytes = read_file(path, max_key_file, what);
  if (!bytes)
    return std::move(bytes.error());
  std::string_view text{reinterpret_cast<const char*>(bytes->data()), bytes->size()};
  auto key = parse(text);
  sodium_memzero(bytes->data(), bytes->size());
  if (!key)
    return make_error(errc::malformed, fmt::format("{}: {}", path, describe(key.error())));
  return key;
}

} // namespace

key_id public_key::id() const {
  auto d = plain_digest(hash_algorithm::blake2b_256, bytes);
  key_id out;
  std::copy_n(d.begin(), out.size(), out.begin());
  return out;
}

secret_key::secret_key(const std::array<uint8_t, 32>& seed) {
  crypto_sign_seed_keypair(public_.bytes.data(), bytes_.data(), seed.data());
}

secret_key::secret_key(secret_key&& other) noexcept
  : bytes_(other.bytes_), public_(other.public_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

secret_key::~secret_key() {
  sodium_memzero(bytes_.data(), bytes_.size());
}

secret_key secret_key::generate() {
  std::array<uint8_t, 32> seed;
  randombytes_buf(seed.data(), seed.size());
  secret_key key{seed};
  sodium_memzero(seed.data(), seed.size());
  return key;
}

signature secret_key::sign(std::span<const uint8_t> message) const {
  signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), bytes_.data());
  return sig;
}

std::string secret_key::to_file_text() const {
  // libsodium's secret key starts with the 32-byte seed.
  return fmt::format("{} {}\n", secret_tag, to_hex(std::span{bytes_}.first(32)));
}

bool verify_signature(const public_key& key, std::span<const uint8_t> message,
                      const signature& sig) {
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(),
                                     key.bytes.data())
         == 0;
}

std::string to_file_text(const public_key& key) {
  return fmt::format("{} {}\n", public_tag, to_hex(key.bytes));
}

caf::expected<public_key> parse_public_key(std::string_view text) {
  auto bytes = parse_key_line(text, public_tag, "public key");
  if (!bytes)
    return std::move(bytes.error());
  return public_key{*bytes};
}

caf::expected<secret_key> parse_secret_key(std::string_view text) {
  auto seed = parse_key_line(text, secret_tag, "secret key");
  if (!seed)
    return std::move(seed.error());
  secret_key key{*seed};
  sodium_memzero(seed->data(), seed->size());
  return key;
}

caf::expected<public_key> load_public_key(const std::string& path) {
  return load_key<public_key>(path, "public key", parse_public_key);
}

caf::expected<secret_key> load_secret_key(const std::string& path) {
  return load_key<secret_key>(path, "secret key", parse_secret_key);
}

} // namespace fwrescue
