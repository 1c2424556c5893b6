#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/rate_limiter.hpp"
#include "frontends/redfish/credentials.hpp"

namespace fwrescue::redfish {

/// HTTP Basic authentication against the credentials file, with the costs bounded: a password
/// check takes tens of milliseconds and megabytes by design (Argon2id), so
///  - a header that passed is remembered for a while (by a keyed hash of it, never the
///    password) and lets its requests in without another check;
///  - checks of headers not remembered are rate-limited per client address and in all, so a
///    flood of wrong passwords costs at most a few checks a second;
///  - one check runs at a time, so the memory they take is one hash's.
/// Thread-safe.
class basic_auth {
public:
  using clock = std::chrono::steady_clock;

  enum class verdict {
    allowed,
    /// No or malformed header, unknown user or wrong password.
    refused,
    /// Not checked: too many checks from this client (or in all) lately.
    throttled,
  };

  struct options {
    /// How long a header that passed lets requests in without another check.
    std::chrono::seconds remember = std::chrono::seconds(60);
    /// Headers remembered at once; the one closest to expiry goes first.
    size_t remembered = 64;
    /// Password checks per second per client address (burst twice that), and in all.
    uint32_t checks_per_client_per_s = 1;
    uint32_t checks_per_s = 4;
  };

  basic_auth(credentials creds, options o);
  explicit basic_auth(credentials creds) : basic_auth(std::move(creds), options{}) {
  }

  /// The verdict on an Authorization header's value from `client` (its address).
  verdict check(std::string_view header, const std::string& client, clock::time_point now);

  /// Password checks made so far (tests count them).
  uint64_t checks() const {
    return checks_.load();
  }

private:
  using key = std::array<uint8_t, 32>;

  key key_of(std::string_view header) const;
  bool remembered(const key& k, clock::time_point now);
  void remember(const key& k, clock::time_point now);

  credentials creds_;
  options options_;
  /// Keys the cache's hashes, so its contents say nothing about the headers.
  std::array<uint8_t, 32> secret_{};
  std::mutex state_mtx_;
  std::map<key, clock::time_point> passed_;
  rate_limiter limiter_;
  /// Held for a password check: one at a time.
  std::mutex check_mtx_;
  std::atomic<uint64_t> checks_{0};
};

} // namespace fwrescue::redfish
