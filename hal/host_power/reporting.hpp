#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "hal/host_power.hpp"

namespace fwrescue {

/// A host power backend that remembers its last failure, so that `status` can show an operator
/// why the host is not where it should be ("power_on: host qemu: QEMU did not start: ...")
/// whoever made the call: the boot watcher at start or in a power cycle, or the flasher.
/// A later successful power change clears it.
class reporting_host_power : public host_power {
public:
  struct failure {
    /// Seconds since the epoch.
    int64_t at = 0;
    /// "CALL: the backend's one-line error".
    std::string what;
  };

  explicit reporting_host_power(std::shared_ptr<host_power> inner);

  caf::expected<power_state> state() override;
  caf::error power_on() override;
  caf::error power_off() override;
  caf::error hold_reset() override;
  caf::error release_reset() override;
  caf::error reset() override;
  std::string console_log() const override;

  std::optional<failure> last_failure() const;

private:
  /// Records `err` as the last failure of `call`, or clears the last one after a change that
  /// succeeded; returns `err`.
  caf::error note(const char* call, caf::error err, bool clears);

  std::shared_ptr<host_power> inner_;
  mutable std::mutex mutex_;
  std::optional<failure> last_;
};

} // namespace fwrescue
