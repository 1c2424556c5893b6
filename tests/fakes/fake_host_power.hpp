#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"
#include "hal/host_power.hpp"

namespace fwrescue::test {

/// A host power seam in memory that records every command it receives ("power_on",
/// "power_off", "hold_reset", "release_reset", "reset"), in order, refused ones included. It follows the
/// transitions of sim_host_power, so a test sees the same refusals a daemon would, and a test
/// can make the next call of a command fail.
class fake_host_power : public host_power {
public:
  explicit fake_host_power(power_state initial = power_state::on) : state_(initial) {
  }

  caf::expected<power_state> state() override {
    ++state_queries_;
    return state_;
  }

  caf::error power_on() override {
    return command("power_on", state_ == power_state::reset_held, power_state::on);
  }

  caf::error power_off() override {
    return command("power_off", false, power_state::off);
  }

  caf::error hold_reset() override {
    return command("hold_reset", state_ == power_state::off, power_state::reset_held);
  }

  caf::error release_reset() override {
    return command("release_reset", state_ == power_state::off, power_state::on);
  }

  caf::error reset() override {
    return command("reset", state_ != power_state::on, power_state::on);
  }

  /// Makes the next call of `name` fail with an `errc::io_failure` and leave the state as is.
  void fail_next(std::string name) {
    fail_next_.push_back(std::move(name));
  }

  /// Commands received, in order.
  const std::vector<std::string>& calls() const {
    return calls_;
  }

  /// How many times state() was asked (not part of calls(), which would drown in them).
  size_t state_queries() const {
    return state_queries_;
  }

  /// The current state, without counting as a query.
  power_state current() const {
    return state_;
  }

private:
  caf::error command(const char* name, bool refused, power_state next) {
    calls_.emplace_back(name);
    if (auto i = std::find(fail_next_.begin(), fail_next_.end(), name); i != fail_next_.end()) {
      fail_next_.erase(i);
      return make_error(errc::io_failure,
                        fmt::format("host power (fake): {}: injected failure", name));
    }
    if (refused)
      return make_error(
        errc::invalid_argument,
        fmt::format("host power (fake): {} refused in state {}", name, to_string(state_)));
    state_ = next;
    return caf::none;
  }

  power_state state_;
  std::vector<std::string> calls_;
  std::vector<std::string> fail_next_;
  size_t state_queries_ = 0;
};

} // namespace fwrescue::test
