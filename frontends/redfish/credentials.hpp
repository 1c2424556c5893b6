#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

namespace fwrescue::redfish {

/// Argon2id cost of the hashes `fwrescue passwd` makes: a few tens of milliseconds and 16 MiB
/// on a BMC's core, so a guessed password costs an attacker that much per try and a login
/// costs the BMC that much once (successes are then cached, basic_auth).
namespace pwhash_cost {
constexpr unsigned long long ops = 2;
constexpr size_t mem_bytes = size_t{16} << 20;
/// A hash in the credentials file that asks for more memory than this is refused at load:
/// every failed login would cost it.
constexpr size_t max_mem_bytes = size_t{64} << 20;
} // namespace pwhash_cost

/// Bounds on the credentials file and on what a client may send as user and password.
namespace credential_limits {
constexpr size_t max_file_bytes = 64 * 1024;
constexpr size_t max_users = 64;
constexpr size_t max_user = 64;
constexpr size_t max_password = 256;
} // namespace credential_limits

/// "user:HASH" for the credentials file, HASH being libsodium's crypto_pwhash_str of `password`
/// at pwhash_cost. Fails with the reason when the user name is not one the file can hold
/// (1..64 of letters, digits, '.', '_', '-') or the password is empty or too long.
caf::expected<std::string> password_line(std::string_view user, std::string_view password);

/// The users allowed in, as the credentials file lists them ([redfish] credentials).
class credentials {
public:
  /// Parses the file's text: one "user:HASH" a line; blank lines and '#' comments ignored.
  /// Errors name the file and line ("creds:3: expected user:HASH").
  static caf::expected<credentials> parse(std::string_view text, const std::string& source);

  /// Reads and parses a credentials file.
  static caf::expected<credentials> load(const std::string& path);

  /// Whether `password` is `user`'s. Costs one Argon2id verification whether or not the user
  /// exists, so the time taken does not say which user names are known.
  bool verify(std::string_view user, std::string_view password) const;

  size_t size() const {
    return users_.size();
  }

private:
  struct entry {
    std::string user;
    std::string hash;
  };
  std::vector<entry> users_;
  /// The hash an unknown user's password is checked against.
  std::string decoy_;
};

} // namespace fwrescue::redfish
