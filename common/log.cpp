#include "common/log.hpp"

#include <cstdio>

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
  auto line = syslog_prefix_
                ? fmt::format("<{}>{} {}: {}\n", priority[i], node_, component, message)
                : fmt::format("{} {:5} {}: {}\n", node_, tag[i], component, message);
  std::lock_guard<std::mutex> guard{mtx_};
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace fwrescue
