#include "common/rate_limiter.hpp"

#include <algorithm>

namespace fwrescue {

rate_limiter::rate_limiter(uint32_t per_key_rate, uint32_t total_rate, uint32_t max_keys)
  : per_key_rate_(per_key_rate), total_rate_(total_rate), max_keys_(std::max(max_keys, 1u)),
    total_tokens_(2.0 * total_rate) {
}

bool rate_limiter::take(double& tokens, clock::time_point& at, clock::time_point now, double rate,
                        double burst) {
  if (now > at) {
    std::chrono::duration<double> dt = now - at;
    tokens = std::min(burst, tokens + dt.count() * rate);
    at = now;
  }
  if (tokens < 1.0)
    return false;
  tokens -= 1.0;
  return true;
}

bool rate_limiter::allow(const std::string& key, clock::time_point now) {
  auto i = buckets_.find(key);
  if (i == buckets_.end()) {
    if (buckets_.size() >= max_keys_) {
      buckets_.erase(ages_.back());
      ages_.pop_back();
    }
    ages_.push_front(key);
    i = buckets_.emplace(key, bucket{2.0 * per_key_rate_, now, ages_.begin()}).first;
  } else {
    ages_.splice(ages_.begin(), ages_, i->second.age);
  }
  auto& b = i->second;
  // The key's bucket is checked first so that a flooding key does not drain the shared one.
  bool ok = take(b.tokens, b.at, now, per_key_rate_, 2.0 * per_key_rate_)
            && take(total_tokens_, total_at_, now, total_rate_, 2.0 * total_rate_);
  refused_ += ok ? 0 : 1;
  return ok;
}

} // namespace fwrescue
