#include "hal/host_power/detached_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

extern char** environ;

namespace fwrescue {
namespace {

using clock = std::chrono::steady_clock;

/// What a failing start wrote is kept up to this size: enough for QEMU's one-line errors.
constexpr size_t max_output = 2048;

/// The output's lines joined by "; ", without blank ones, cut to one line of the log.
std::string one_line(const std::string& out) {
  std::string joined;
  size_t at = 0;
  while (at < out.size()) {
    auto eol = out.find('\n', at);
    auto line = out.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
    at = eol == std::string::npos ? out.size() : eol + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.pop_back();
    if (line.empty())
      continue;
    if (!joined.empty())
      joined += "; ";
    joined += line;
  }
  for (auto& c : joined)
    if (static_cast<unsigned char>(c) < 0x20)
      c = ' ';
  return joined.size() > 400 ? joined.substr(0, 400) + "..." : joined;
}

/// Whether the process is a zombie (gone but not reaped), from /proc/PID/stat.
bool is_zombie(pid_t pid) {
  std::ifstream in{fmt::format("/proc/{}/stat", pid)};
  std::string stat;
  std::getline(in, stat);
  // "PID (comm) S ...": the state follows the last ')', as comm may hold anything.
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

} // namespace

caf::error run_daemonizing(const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return make_error(errc::io_failure, fmt::format("cannot make a pipe: {}", std::strerror(errno)));
  unique_fd read_end{pipe_fds[0]};
  unique_fd write_end{pipe_fds[1]};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);
  // The daemon's sockets and files must not stay open in a process that outlives it.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own session: a signal to the daemon's process group does not reach the host.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return make_error(errc::io_failure,
                      fmt::format("cannot run '{}': {}", argv[0], std::strerror(rc)));
  write_end = unique_fd{};
  // The output ends when the foreground part exits and the background part has let go of the
  // pipe; both must happen by the deadline.
  std::string out;
  auto deadline = clock::now() + timeout;
  bool open = true;
  while (open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0)
      break;
    pollfd p{read_end.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      break;
    char buf[1024];
    auto n = ::read(read_end.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      open = false;
    else if (out.size() < max_output)
      out.append(buf, static_cast<size_t>(std::min<ssize_t>(n, max_output - out.size())));
  }
  int status = 0;
  pid_t waited = 0;
  for (;;) {
    waited = ::waitpid(pid, &status, WNOHANG);
    if (waited != 0 || clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  if (waited == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return make_error(errc::io_failure,
                      fmt::format("'{}' did not start within {} ms{}{}", argv[0], timeout.count(),
                                  out.empty() ? "" : ": ", one_line(out)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return caf::none;
  auto how = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                               : fmt::format("signal {}", WTERMSIG(status));
  auto said = one_line(out);
  return make_error(errc::io_failure, fmt::format("'{}' failed ({}){}{}", argv[0], how,
                                                  said.empty() ? "" : ": ", said));
}

std::optional<pid_t> read_pid_file(const std::string& path) {
  std::ifstream in{path};
  long long pid = 0;
  if (!(in >> pid) || pid <= 1 || pid > 4194304)
    return std::nullopt;
  return static_cast<pid_t>(pid);
}

bool process_alive(pid_t pid, const std::string& marker) {
  if (::kill(pid, 0) != 0 && errno == ESRCH)
    return false;
  if (is_zombie(pid)) {
    ::waitpid(pid, nullptr, WNOHANG); // ours only when the daemon is the reaper of orphans
    return false;
  }
  std::ifstream in{fmt::format("/proc/{}/cmdline", pid), std::ios::binary};
  std::string cmdline{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  return cmdline.find(marker) != std::string::npos;
}

bool wait_gone(pid_t pid, const std::string& marker, std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (process_alive(pid, marker)) {
    if (clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return true;
}

caf::error end_process(pid_t pid, const std::string& marker, std::chrono::milliseconds grace) {
  if (!process_alive(pid, marker))
    return caf::none;
  ::kill(pid, SIGTERM);
  if (wait_gone(pid, marker, grace))
    return caf::none;
  ::kill(pid, SIGKILL);
  if (wait_gone(pid, marker, std::chrono::seconds{2}))
    return caf::none;
  return make_error(errc::io_failure,
                    fmt::format("process {} is still there after SIGKILL", pid));
}

} // namespace fwrescue
