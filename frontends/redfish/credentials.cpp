#include "frontends/redfish/credentials.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <fmt/format.h>
#include <sodium.h>

#include "common/error.hpp"
#include "common/file_io.hpp"

namespace fwrescue::redfish {

namespace {

bool valid_user(std::string_view user) {
  return !user.empty() && user.size() <= credential_limits::max_user
         && std::all_of(user.begin(), user.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                     || c == '.' || c == '_' || c == '-';
            });
}

/// The memory cost an encoded Argon2 hash asks for ("$argon2id$v=19$m=16384,t=2,p=1$…", m in
/// KiB), or nothing when the text holds none.
std::optional<size_t> memory_cost(std::string_view hash) {
  auto at = hash.find("$m=");
  if (at == std::string_view::npos)
    return std::nullopt;
  auto digits = hash.substr(at + 3);
  size_t kib = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), kib);
  if (ec != std::errc{} || end == digits.data() || kib > (SIZE_MAX >> 10))
    return std::nullopt;
  return kib << 10;
}

std::string hash_of(std::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), pwhash_cost::ops,
                            pwhash_cost::mem_bytes, crypto_pwhash_ALG_ARGON2ID13)
      != 0)
    return {};
  return out;
}

} // namespace

caf::expected<std::string> password_line(std::string_view user, std::string_view password) {
  if (!valid_user(user))
    return make_error(errc::invalid_argument,
                      fmt::format("user name must be 1 to {} letters, digits, '.', '_' or '-'",
                                  credential_limits::max_user));
  if (password.empty() || password.size() > credential_limits::max_password)
    return make_error(errc::invalid_argument, fmt::format("password must be 1 to {} bytes",
                                                          credential_limits::max_password));
  auto hash = hash_of(password);
  if (hash.empty())
    return make_error(errc::io_failure, "cannot hash the password (out of memory?)");
  return fmt::format("{}:{}", user, hash);
}

caf::expected<credentials> credentials::parse(std::string_view text, const std::string& source) {
  credentials out;
  size_t line_no = 0;
  for (size_t start = 0; start < text.size();) {
    auto end = std::min(text.find('\n', start), text.size());
    auto line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    if (line.empty() || line.front() == '#')
      continue;
    auto bad = [&](std::string_view why) {
      return make_error(errc::invalid_argument, fmt::format("{}:{}: {}", source, line_no, why));
    };
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      return bad("expected user:HASH (made by fwrescue passwd USER)");
    auto user = line.substr(0, colon);
    auto hash = line.substr(colon + 1);
    if (!valid_user(user))
      return bad("the user name must be letters, digits, '.', '_' or '-'");
    if (hash.size() >= crypto_pwhash_STRBYTES || !hash.starts_with("$argon2id$"))
      return bad("the hash is not an Argon2id hash from fwrescue passwd");
    auto mem = memory_cost(hash);
    if (!mem || *mem > pwhash_cost::max_mem_bytes)
      return bad(fmt::format("the hash asks for more than {} MiB per check",
                             pwhash_cost::max_mem_bytes >> 20));
    if (std::any_of(out.users_.begin(), out.users_.end(),
                    [&](const entry& e) { return e.user == user; }))
      return bad(fmt::format("user '{}' is listed twice", user));
    if (out.users_.size() == credential_limits::max_users)
      return bad(fmt::format("more than {} users", credential_limits::max_users));
    out.users_.push_back({std::string{user}, std::string{hash}});
  }
  if (out.users_.empty())
    return make_error(errc::invalid_argument, fmt::format("{}: lists no user", source));
  out.decoy_ = hash_of("decoy: no user has this password");
  return out;
}

caf::expected<credentials> credentials::load(const std::string& path) {
  auto bytes = read_file(path, credential_limits::max_file_bytes, "credentials file");
  if (!bytes)
    return bytes.error();
  return parse({reinterpret_cast<const char*>(bytes->data()), bytes->size()}, path);
}

bool credentials::verify(std::string_view user, std::string_view password) const {
  if (password.size() > credential_limits::max_password)
    return false;
  auto it =
    std::find_if(users_.begin(), users_.end(), [&](const entry& e) { return e.user == user; });
  const auto& hash = it != users_.end() ? it->hash : decoy_;
  bool ok = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  return ok && it != users_.end();
}

} // namespace fwrescue::redfish
