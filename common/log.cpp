#include "common/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace fwrescue {

bool parse_log_level(std::string_view text, log_level& out) {
  if (text == "debug")
    out = log_level::debug;
  else if (text == "info")
    out = log_level::info;
  else if (text == "warn")
    out = log_level::warn;
  else if (text == "error")
    out = log_level::error;
  else
    return false;
  return true;
}

logger::logger(std::string node, log_level threshold, bool syslog_prefix)
  : node_(std::move(node)), threshold_(threshold), syslog_prefix_(syslog_prefix) {
}

void logger::write(log_level level, std::string_view component, std::string_view message) {
  if (level < threshold_)
    return;
  // syslog priorities: 3 error, 4 warning, 6 info, 7 debug.
  static constexpr int priority[] = {7, 6, 4, 3};
  static constexpr const char* tag[] = {"debug", "info", "WARN", "ERROR"};
  auto i = static_cast<int>(level);
  std::string line;
  if (syslog_prefix_) {
    // journald stamps each line itself.
    line = fmt::format("<{}>{} {}: {}\n", priority[i], node_, component, message);
  } else {
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    auto t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    line = fmt::format("{:02}:{:02}:{:02}.{:03} {} {:5} {}: {}\n", tm.tm_hour, tm.tm_min,
                       tm.tm_sec, ms % 1000, node_, tag[i], component, message);
  }
  std::lock_guard<std::mutex> guard{mtx_};
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace fwrescue
