#include "tools/fwrescue/status_watch.hpp"

#include <csignal>
#include <ctime>
#include <poll.h>
#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "common/error.hpp"
#include "tools/fwrescue/admin_client.hpp"
#include "tools/fwrescue/image_commands.hpp"
#include "tools/fwrescue/status_view.hpp"

namespace fwrescue::cli {

namespace {

using json = nlohmann::ordered_json;

volatile std::sig_atomic_t stop_requested = 0;

void request_stop(int) {
  stop_requested = 1;
}

std::string now_utc() {
  std::tm tm{};
  auto t = std::time(nullptr);
  ::gmtime_r(&t, &tm);
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", tm);
}

/// Sleeps for `ms`, or less if a signal asks to stop.
void pause_for(int ms) {
  ::poll(nullptr, 0, ms);
}

/// Whether every target's last recovery (if it had one) succeeded.
bool all_succeeded(const json& status) {
  for (const auto& t : targets_of(status))
    if (t.contains("last_recovery") && t["last_recovery"].is_object()
        && !t["last_recovery"].value("succeeded", false))
      return false;
  return true;
}

/// Redraws the frame in place: back to the first line of the previous frame, clear to the end
/// of the screen, print the new one.
class terminal_view {
public:
  void show(const std::vector<std::string>& lines) {
    std::string out;
    if (shown_ > 0)
      out += fmt::format("\x1b[{}F\x1b[J", shown_);
    for (const auto& l : lines)
      out += l + "\n";
    fmt::print("{}", out);
    std::fflush(stdout);
    shown_ = lines.size();
  }

private:
  size_t shown_ = 0;
};

/// Prints a line per change, so a log of the watch reads as the recovery's history.
class line_view {
public:
  void show_status(const json& status) {
    auto targets = targets_of(status);
    keys_.resize(std::max(keys_.size(), targets.size()));
    for (size_t i = 0; i < targets.size(); ++i) {
      auto key = watch_key(targets[i]);
      if (key == keys_[i])
        continue;
      keys_[i] = key;
      fmt::print("{} {}\n", now_utc(), watch_line(targets[i], false));
    }
    error_.clear();
    std::fflush(stdout);
  }
  void show_error(const std::string& what) {
    // Once per outage: a daemon shutting down is first "connection refused", then its socket
    // is gone, and that is one event for the reader.
    if (!error_.empty())
      return;
    error_ = what;
    // The targets' lines are news again once the daemon answers.
    keys_.clear();
    fmt::print("{} {}\n", now_utc(), what);
    std::fflush(stdout);
  }

private:
  std::vector<std::string> keys_;
  std::string error_;
};

} // namespace

int run_status_watch(const admin_options& opts) {
  struct sigaction sa{};
  sa.sa_handler = request_stop;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  auto interval_ms = static_cast<int>(opts.interval_s * 1000);
  bool tty = ::isatty(STDOUT_FILENO) == 1;
  terminal_view terminal;
  line_view lines;
  while (stop_requested == 0) {
    auto answer = ask_daemon(opts, "status");
    if (!answer) {
      auto what = "daemon unreachable: " + describe(answer.error());
      if (opts.until_done) {
        fmt::print(stderr, "fwrescue status: {}\n", what);
        return exit_error;
      }
      if (tty)
        terminal.show({now_utc(), what});
      else
        lines.show_error(what);
    } else {
      const auto& status = (*answer)["status"];
      if (tty) {
        std::vector<std::string> frame{fmt::format("{}  node {} ({})  every {} s, Ctrl-C to stop",
                                                   now_utc(), status.value("node", ""),
                                                   status.value("role", ""), opts.interval_s)};
        for (const auto& t : targets_of(status))
          frame.push_back(watch_line(t, true));
        terminal.show(frame);
      } else {
        lines.show_status(status);
      }
      if (opts.until_done && !any_recovering(status))
        return all_succeeded(status) ? exit_ok : exit_recovery_failed;
    }
    pause_for(interval_ms);
  }
  return exit_ok;
}

} // namespace fwrescue::cli
