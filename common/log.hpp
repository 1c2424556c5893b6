#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace fwrescue {

enum class log_level : uint8_t { debug = 0, info = 1, warn = 2, error = 3 };

/// Parses "debug", "info", "warn", "error".
bool parse_log_level(std::string_view text, log_level& out);

/// Writes one line per event to stderr: `HH:MM:SS.mmm <node> <level> <component>: <message>`
/// (UTC). Under journald (`syslog_prefix`) the time is left to journald and the line starts
/// with the syslog priority (`<3>` … `<7>`) it turns into the entry's level. Thread-safe.
class logger {
public:
  logger(std::string node, log_level threshold, bool syslog_prefix);

  void set_threshold(log_level level) {
    threshold_ = level;
  }

  void write(log_level level, std::string_view component, std::string_view message);

  template <class... Ts>
  void debug(std::string_view component, fmt::format_string<Ts...> f, Ts&&... xs) {
    if (threshold_ <= log_level::debug)
      write(log_level::debug, component, fmt::format(f, std::forward<Ts>(xs)...));
  }
  template <class... Ts>
  void info(std::string_view component, fmt::format_string<Ts...> f, Ts&&... xs) {
    if (threshold_ <= log_level::info)
      write(log_level::info, component, fmt::format(f, std::forward<Ts>(xs)...));
  }
  template <class... Ts>
  void warn(std::string_view component, fmt::format_string<Ts...> f, Ts&&... xs) {
    if (threshold_ <= log_level::warn)
      write(log_level::warn, component, fmt::format(f, std::forward<Ts>(xs)...));
  }
  template <class... Ts>
  void error(std::string_view component, fmt::format_string<Ts...> f, Ts&&... xs) {
    write(log_level::error, component, fmt::format(f, std::forward<Ts>(xs)...));
  }

private:
  std::string node_;
  log_level threshold_;
  bool syslog_prefix_;
  std::mutex mtx_;
};

} // namespace fwrescue
