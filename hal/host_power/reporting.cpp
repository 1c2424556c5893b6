#include "hal/host_power/reporting.hpp"

#include <chrono>

#include "common/error.hpp"

namespace fwrescue {

reporting_host_power::reporting_host_power(std::shared_ptr<host_power> inner)
  : inner_(std::move(inner)) {
}

caf::expected<power_state> reporting_host_power::state() {
  auto s = inner_->state();
  if (!s)
    note("state", s.error(), false);
  return s;
}

caf::error reporting_host_power::power_on() {
  return note("power_on", inner_->power_on(), true);
}

caf::error reporting_host_power::power_off() {
  return note("power_off", inner_->power_off(), true);
}

caf::error reporting_host_power::hold_reset() {
  return note("hold_reset", inner_->hold_reset(), true);
}

caf::error reporting_host_power::release_reset() {
  return note("release_reset", inner_->release_reset(), true);
}

caf::error reporting_host_power::reset() {
  return note("reset", inner_->reset(), true);
}

std::string reporting_host_power::console_log() const {
  return inner_->console_log();
}

std::optional<reporting_host_power::failure> reporting_host_power::last_failure() const {
  std::lock_guard lock{mutex_};
  return last_;
}

caf::error reporting_host_power::note(const char* call, caf::error err, bool clears) {
  std::lock_guard lock{mutex_};
  if (err) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    last_ = failure{std::chrono::duration_cast<std::chrono::seconds>(now).count(),
                    std::string{call} + ": " + describe(err)};
  } else if (clears) {
    last_.reset();
  }
  return err;
}

} // namespace fwrescue
