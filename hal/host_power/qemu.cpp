#include "hal/host_power/qemu.hpp"

#include <filesystem>
#include <system_error>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "hal/host_power/detached_process.hpp"
#include "hal/host_power/qmp_client.hpp"

namespace fwrescue {
namespace {

namespace fs = std::filesystem;

/// The console log is set aside (as host_console.log.1) at a power-on once it is this large, so
/// a chatty host cannot fill the BMC's storage across boots.
constexpr uintmax_t console_log_limit = 8 << 20;

/// QEMU option values are comma-separated; a comma in a path is written twice.
std::string escape_commas(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ',')
      out += ',';
  }
  return out;
}

caf::error invalid(const std::string& what) {
  return make_error(errc::invalid_argument, "host qemu: " + what);
}

} // namespace

caf::expected<std::unique_ptr<qemu_host_power>> qemu_host_power::open(qemu_host_options o) {
  std::error_code ec;
  if (o.firmware.empty())
    return invalid("no firmware file: set host_power.firmware (the file the host boots from)");
  o.firmware = fs::absolute(o.firmware, ec).string();
  o.state_dir = fs::absolute(o.state_dir, ec).lexically_normal().string();
  while (o.state_dir.size() > 1 && o.state_dir.back() == '/')
    o.state_dir.pop_back();
  auto size = fs::file_size(o.firmware, ec);
  if (ec || !fs::is_regular_file(o.firmware))
    return invalid(fmt::format("firmware {}: not a readable regular file{}", o.firmware,
                               ec ? ": " + ec.message() : ""));
  if (o.firmware_offset > size)
    return invalid(fmt::format("firmware {}: offset {} is past its end ({} bytes)", o.firmware,
                               o.firmware_offset, size));
  if (o.firmware_size == 0)
    o.firmware_size = size - o.firmware_offset;
  if (o.firmware_size > size - o.firmware_offset)
    return invalid(fmt::format("firmware {}: {} bytes at offset {} go past its end ({} bytes)",
                               o.firmware, o.firmware_size, o.firmware_offset, size));
  if (o.firmware_size == 0 || o.firmware_size % 4096 != 0)
    return invalid(fmt::format("firmware {}: the firmware's size {} is not a non-zero multiple of "
                               "4096, which QEMU's pflash needs",
                               o.firmware, o.firmware_size));
  std::unique_ptr<qemu_host_power> host{new qemu_host_power(std::move(o))};
  if (host->qmp_path_.size() > 107)
    return invalid(fmt::format("the QMP socket path {} is longer than a unix socket allows (107 "
                               "bytes); use a shorter node.state_dir",
                               host->qmp_path_));
  if (!fs::exists(host->vars_path_)) {
    const auto& from = host->options_.vars_template;
    auto tmp = host->vars_path_ + ".tmp";
    if (!fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec))
      return invalid(fmt::format("cannot make the UEFI variable store {} from {}: {}",
                                 host->vars_path_, from, ec.message()));
    fs::rename(tmp, host->vars_path_, ec);
    if (ec)
      return invalid(fmt::format("cannot make the UEFI variable store {}: {}", host->vars_path_,
                                 ec.message()));
  }
  return host;
}

qemu_host_power::qemu_host_power(qemu_host_options options)
  : options_(std::move(options)), vars_path_(options_.state_dir + "/host_vars.fd"),
    console_path_(options_.state_dir + "/host_console.log"),
    qmp_path_(options_.state_dir + "/host_qmp.sock"),
    pid_path_(options_.state_dir + "/host_qemu.pid") {
}

std::vector<std::string> qemu_host_power::command_line() const {
  using nlohmann::json;
  const auto& o = options_;
  std::vector<std::string> cmd{o.binary, "-name", "fwrescue-host", "-machine",
                               o.machine + ",pflash0=fwrescue-code,pflash1=fwrescue-vars"};
  // With "auto", QEMU falls back to TCG when KVM cannot start.
  bool kvm = o.accel == "kvm" || (o.accel == "auto" && ::access("/dev/kvm", R_OK | W_OK) == 0);
  for (const char* accel : {kvm ? "kvm" : "tcg", o.accel == "auto" && kvm ? "tcg" : nullptr})
    if (accel) {
      cmd.emplace_back("-accel");
      cmd.emplace_back(accel);
    }
  // The code pflash is a window onto the flash file, read once at start; the daemon rewrites
  // the file, so QEMU must not lock it.
  json code_file{{"driver", "file"},  {"node-name", "fwrescue-code-file"}, {"filename", o.firmware},
                 {"read-only", true}, {"locking", "off"}};
  json code{{"driver", "raw"},
            {"node-name", "fwrescue-code"},
            {"file", "fwrescue-code-file"},
            {"read-only", true},
            {"offset", o.firmware_offset},
            {"size", o.firmware_size}};
  json vars_file{{"driver", "file"}, {"node-name", "fwrescue-vars-file"}, {"filename", vars_path_}};
  json vars{{"driver", "raw"}, {"node-name", "fwrescue-vars"}, {"file", "fwrescue-vars-file"}};
  for (const auto& a : std::vector<std::string>{
         "-m", std::to_string(o.memory_mib), "-nodefaults", "-no-user-config", "-display", "none",
         "-blockdev", code_file.dump(), "-blockdev", code.dump(), "-blockdev", vars_file.dump(),
         "-blockdev", vars.dump(), "-chardev",
         "file,id=fwrescue-console,append=on,path=" + escape_commas(console_path_), "-serial",
         "chardev:fwrescue-console", "-qmp", "unix:" + escape_commas(qmp_path_) + ",server=on,wait=off",
         "-pidfile", pid_path_, "-daemonize"})
    cmd.push_back(a);
  cmd.insert(cmd.end(), o.extra_args.begin(), o.extra_args.end());
  return cmd;
}

std::string qemu_host_power::console_log() const {
  return console_path_;
}

std::optional<pid_t> qemu_host_power::running_pid() const {
  auto pid = read_pid_file(pid_path_);
  if (pid && process_alive(*pid, qmp_path_))
    return pid;
  return std::nullopt;
}

caf::expected<power_state> qemu_host_power::state() {
  std::lock_guard lock{mutex_};
  return state_locked();
}

caf::expected<power_state> qemu_host_power::state_locked() {
  auto pid = running_pid();
  if (!pid)
    return power_state::off;
  auto qmp = qmp_client::connect(qmp_path_, options_.qmp_timeout);
  if (!qmp)
    return fail(fmt::format("QEMU (pid {}) runs but does not answer", *pid), qmp.error());
  auto status = qmp->execute("query-status");
  if (!status)
    return fail(fmt::format("QEMU (pid {}): cannot read the guest's state", *pid), status.error());
  auto word = status->value("status", std::string{});
  if (word == "paused" || word == "prelaunch")
    return power_state::reset_held;
  if (word == "shutdown") {
    // The guest powered itself off; QEMU is on its way out.
    if (wait_gone(*pid, qmp_path_, options_.qmp_timeout))
      return power_state::off;
  }
  // Running, or stopped by a fault of the guest (panicked, internal error): powered either way.
  return power_state::on;
}

caf::error qemu_host_power::power_on() {
  std::lock_guard lock{mutex_};
  auto s = state_locked();
  if (!s)
    return s.error();
  if (*s == power_state::reset_held)
    return refuse("power_on", "the host is held in reset; release it instead");
  if (*s == power_state::on)
    return caf::none;
  return start();
}

caf::error qemu_host_power::power_off() {
  std::lock_guard lock{mutex_};
  auto s = state_locked();
  // A QEMU whose QMP does not answer is ended all the same: off is the safe state.
  if (!s)
    return stop(false);
  if (*s == power_state::off)
    return caf::none;
  return stop(*s == power_state::on);
}

caf::error qemu_host_power::hold_reset() {
  std::lock_guard lock{mutex_};
  auto s = state_locked();
  if (!s)
    return s.error();
  if (*s == power_state::off)
    return refuse("hold_reset", "the host is off");
  if (*s == power_state::reset_held)
    return caf::none;
  {
    // QEMU serves one QMP client at a time: this one is closed before the state is read back.
    auto qmp = qmp_client::connect(qmp_path_, options_.qmp_timeout);
    if (!qmp)
      return fail("hold in reset", qmp.error());
    // Reset first, so the guest lets go of what it was doing; then stop it before it runs on.
    for (const char* cmd : {"system_reset", "stop"})
      if (auto r = qmp->execute(cmd); !r)
        return fail("hold in reset", r.error());
  }
  auto now = state_locked();
  if (!now)
    return now.error();
  if (*now != power_state::reset_held)
    return fail("hold in reset", make_error(errc::io_failure,
                                            fmt::format("the host is {} after stop", to_string(*now))));
  return caf::none;
}

caf::error qemu_host_power::release_reset() {
  std::lock_guard lock{mutex_};
  auto s = state_locked();
  if (!s)
    return s.error();
  if (*s == power_state::off)
    return refuse("release_reset", "the host is off");
  if (*s == power_state::on)
    return caf::none;
  say(log_level::info, "restarting QEMU to release the host from reset: it reads its flash anew");
  if (auto err = stop(false))
    return err;
  return start();
}

caf::error qemu_host_power::reset() {
  std::lock_guard lock{mutex_};
  auto s = state_locked();
  if (!s)
    return s.error();
  if (*s != power_state::on)
    return refuse("reset", *s == power_state::off ? "the host is off" : "the host is held in reset");
  say(log_level::info, "restarting QEMU to reset the host: it reads its flash anew");
  if (auto err = stop(false))
    return err;
  return start();
}

caf::error qemu_host_power::start() {
  std::error_code ec;
  if (fs::file_size(console_path_, ec) > console_log_limit && !ec)
    fs::rename(console_path_, console_path_ + ".1", ec);
  fs::remove(qmp_path_, ec);
  fs::remove(pid_path_, ec);
  if (auto err = run_daemonizing(command_line(), options_.start_timeout))
    return fail("QEMU did not start", err);
  auto pid = running_pid();
  if (!pid)
    return fail("QEMU did not start",
                make_error(errc::io_failure, fmt::format("no running QEMU behind pid file {}",
                                                         pid_path_)));
  auto now = state_locked();
  if (!now)
    return now.error();
  if (*now != power_state::on)
    return fail("QEMU started", make_error(errc::io_failure,
                                           fmt::format("but the host is {}", to_string(*now))));
  say(log_level::info, fmt::format("QEMU started (pid {}), the host runs", *pid));
  return caf::none;
}

caf::error qemu_host_power::stop(bool graceful) {
  auto pid = running_pid();
  if (!pid)
    return caf::none;
  auto qmp = qmp_client::connect(qmp_path_, options_.qmp_timeout);
  if (qmp && graceful) {
    if (auto r = qmp->execute("system_powerdown"); !r)
      say(log_level::warn, describe(r.error()));
    else if (wait_gone(*pid, qmp_path_, options_.powerdown_timeout)) {
      say(log_level::info, "the host powered down");
      return caf::none;
    } else
      say(log_level::info, fmt::format("the host did not power down within {} ms; ending QEMU",
                                       options_.powerdown_timeout.count()));
  }
  if (qmp) {
    // "quit" ends QEMU at once; the answer may not arrive before the socket closes.
    (void) qmp->execute("quit");
  }
  if (auto err = end_process(*pid, qmp_path_, options_.qmp_timeout))
    return fail("cannot power the host off", err);
  std::error_code ec;
  fs::remove(qmp_path_, ec);
  fs::remove(pid_path_, ec);
  return caf::none;
}

caf::error qemu_host_power::fail(const std::string& what, const caf::error& why) const {
  return make_error(errc::io_failure, fmt::format("host qemu: {}: {}", what, describe(why)));
}

caf::error qemu_host_power::refuse(const char* call, const char* why) const {
  return make_error(errc::invalid_argument, fmt::format("host qemu: {} refused: {}", call, why));
}

void qemu_host_power::say(log_level level, const std::string& line) const {
  if (options_.log)
    options_.log(level, line);
}

} // namespace fwrescue
