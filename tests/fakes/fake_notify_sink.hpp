#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "tools/fwrescued/service_notify.hpp"

namespace fwrescue::test {

/// Records what the daemon would tell systemd; thread-safe, since the watchdog keeper sends from
/// its own thread.
class fake_notify_sink : public notify_sink {
public:
  void send(const std::string& state) override {
    std::lock_guard<std::mutex> guard{mtx_};
    sent_.push_back(state);
    changed_.notify_all();
  }

  std::vector<std::string> sent() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return sent_;
  }

  size_t count(const std::string& state) const {
    std::lock_guard<std::mutex> guard{mtx_};
    return static_cast<size_t>(std::count(sent_.begin(), sent_.end(), state));
  }

  /// Waits until `state` was sent `n` times; false when `limit` passes first.
  bool wait_for(const std::string& state, size_t n, std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock{mtx_};
    return changed_.wait_for(lock, limit, [&] {
      return static_cast<size_t>(std::count(sent_.begin(), sent_.end(), state)) >= n;
    });
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable changed_;
  std::vector<std::string> sent_;
};

} // namespace fwrescue::test
