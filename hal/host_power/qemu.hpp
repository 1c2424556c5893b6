#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "common/log.hpp"
#include "hal/host_power.hpp"

namespace fwrescue {

/// Where the emulated host finds its firmware and keeps its files, and how long each step may
/// take.
struct qemu_host_options {
  std::string binary = "qemu-system-x86_64";
  /// QEMU's machine type; the two pflash drives are added to it.
  std::string machine = "q35";
  uint32_t memory_mib = 256;
  /// "tcg", "kvm", or "auto": KVM when /dev/kvm can be opened, with TCG as QEMU's fallback.
  /// TCG is the default: a nested KVM may start a guest that never runs.
  std::string accel = "tcg";
  /// The file holding the BIOS flash the host executes (the node's flash file, or the emulated
  /// chip's image), and the part of it that is the firmware (size 0: to the end of the file).
  std::string firmware;
  uint64_t firmware_offset = 0;
  uint64_t firmware_size = 0;
  /// The UEFI variable store the host's own copy (`state_dir/host_vars.fd`) starts from.
  std::string vars_template = "/usr/share/OVMF/OVMF_VARS_4M.fd";
  /// Holds host_vars.fd, host_console.log, host_qmp.sock and host_qemu.pid.
  std::string state_dir;
  /// Appended to QEMU's command line as they are.
  std::vector<std::string> extra_args;
  std::chrono::milliseconds start_timeout{10000};
  /// How long the guest has to power down when asked (ACPI power button) before QEMU is ended.
  std::chrono::milliseconds powerdown_timeout{10000};
  std::chrono::milliseconds qmp_timeout{3000};
  std::function<void(log_level, std::string_view)> log;
};

/// The host is a QEMU machine booting the BIOS flash as its code pflash. Powered on: the QEMU
/// process runs and its guest runs. Held in reset: the guest was reset and stopped over QMP.
/// Off: no QEMU process. The state is always read back: the process (by its pid file, checked
/// against its command line) and QMP `query-status`.
///
/// QEMU reads its pflash when it starts, so anything that must make the host run a rewritten
/// flash — a release from reset, a reset — restarts the QEMU process; a host left running keeps
/// the image it started with until then. QEMU runs in its own session and outlives the daemon,
/// as a host outlives its BMC's software; a restarted daemon finds it by its pid file.
///
/// Calls are serialized: the flasher and the boot watcher may both use the host.
class qemu_host_power : public host_power {
public:
  /// Checks the options (the firmware and vars files exist, the socket path fits) and makes the
  /// state directory's vars copy when it is missing. Starts nothing.
  static caf::expected<std::unique_ptr<qemu_host_power>> open(qemu_host_options options);

  caf::expected<power_state> state() override;
  caf::error power_on() override;
  caf::error power_off() override;
  caf::error hold_reset() override;
  caf::error release_reset() override;
  caf::error reset() override;
  std::string console_log() const override;

  /// QEMU's command line for a start, as run (for tests and the log).
  std::vector<std::string> command_line() const;

private:
  explicit qemu_host_power(qemu_host_options options);

  caf::expected<power_state> state_locked();
  /// Starts QEMU and waits until its guest runs.
  caf::error start();
  /// Ends QEMU: asks the guest to power down when `graceful`, then quits it, then kills it.
  caf::error stop(bool graceful);
  /// The running QEMU's PID, or nothing.
  std::optional<pid_t> running_pid() const;
  /// "host qemu: WHAT: WHY" errors.
  caf::error fail(const std::string& what, const caf::error& why) const;
  caf::error refuse(const char* call, const char* why) const;
  void say(log_level level, const std::string& line) const;

  qemu_host_options options_;
  std::string vars_path_;
  std::string console_path_;
  std::string qmp_path_;
  std::string pid_path_;
  std::mutex mutex_;
};

} // namespace fwrescue
