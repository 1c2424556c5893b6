#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <caf/error.hpp>

namespace fwrescue {

/// Runs `argv` (argv[0] looked up in PATH), a program that puts itself in the background once it
/// has started, as `qemu -daemonize` does, and waits up to `timeout` for its foreground part to
/// exit. The background process outlives the daemon, as a host outlives its BMC's software.
/// It inherits no descriptor but /dev/null as stdin and a pipe as stdout and stderr, which is
/// read so that a failure says why: "cannot run 'qemu-system-x86_64': No such file or
/// directory", "exit status 1: qemu-system-x86_64: -blockdev ...: Could not open ...". A program
/// still in the foreground at the deadline is killed.
caf::error run_daemonizing(const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout);

/// The PID in `path` (a pid file: a decimal number and a line end), or nothing when the file is
/// missing or holds something else.
std::optional<pid_t> read_pid_file(const std::string& path);

/// Whether `pid` names a live process (not a zombie) whose command line holds `marker` as one
/// of its arguments or a part of one: a PID reused by another program is not ours.
bool process_alive(pid_t pid, const std::string& marker);

/// Ends `pid`: SIGTERM, up to `grace` for it to go, then SIGKILL and up to two seconds more.
/// A zombie child of ours is reaped. An error names the PID when it would not go.
caf::error end_process(pid_t pid, const std::string& marker, std::chrono::milliseconds grace);

/// Waits up to `timeout` for `pid` to be gone; whether it went.
bool wait_gone(pid_t pid, const std::string& marker, std::chrono::milliseconds timeout);

} // namespace fwrescue
