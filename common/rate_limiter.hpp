#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace fwrescue {

/// Token buckets per key (a source address) plus one for all keys together: `allow` says
/// whether one more event may happen now. Each key's bucket refills at `per_key_rate` per
/// second up to a burst of twice that; the shared one at `total_rate`. At most `max_keys`
/// keys are remembered; the least recently seen is forgotten first, which can only ever let
/// a forgotten key start again with a full bucket, never deny anyone more.
class rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  rate_limiter(uint32_t per_key_rate, uint32_t total_rate, uint32_t max_keys);
  // The buckets point into the age list: a copy would point into the original's.
  rate_limiter(const rate_limiter&) = delete;
  rate_limiter& operator=(const rate_limiter&) = delete;

  /// Whether an event for `key` is allowed at `now`; takes a token from both buckets if so.
  bool allow(const std::string& key, clock::time_point now);

  /// Keys currently remembered.
  size_t size() const {
    return buckets_.size();
  }

  /// Events refused so far.
  uint64_t refused() const {
    return refused_;
  }

private:
  struct bucket {
    double tokens = 0;
    clock::time_point at{};
    std::list<std::string>::iterator age;
  };

  /// Refills `b` up to `burst` at `rate` per second and takes one token if there is one.
  static bool take(double& tokens, clock::time_point& at, clock::time_point now, double rate,
                   double burst);

  double per_key_rate_;
  double total_rate_;
  uint32_t max_keys_;
  double total_tokens_;
  clock::time_point total_at_{};
  std::unordered_map<std::string, bucket> buckets_;
  /// Keys from most to least recently seen.
  std::list<std::string> ages_;
  uint64_t refused_ = 0;
};

} // namespace fwrescue
