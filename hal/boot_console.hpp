#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fwrescue {

enum class boot_outcome : uint8_t { booted, no_output, no_pattern };

/// "booted", "no_output" or "no_pattern".
const char* to_string(boot_outcome o);

/// What a watched boot showed.
struct boot_verdict {
  boot_outcome outcome = boot_outcome::no_output;
  /// Console bytes seen since the watch began.
  uint64_t bytes_seen = 0;
  /// The success pattern that matched, when one did.
  std::string matched;
  /// The last non-empty line seen, printable and at most 120 characters.
  std::string last_line;
};

/// The size of a console log now; 0 when it does not exist yet.
uint64_t console_size(const std::string& path);

/// Watches a console log from a byte offset for any of a list of success patterns (plain
/// substrings). Each poll reads only what was appended since the last one, in bounded chunks,
/// keeping the last (longest pattern - 1) bytes so a pattern split across two reads still
/// matches; however large the log grows, memory stays bounded.
class boot_console_watch {
public:
  boot_console_watch(std::string path, uint64_t offset, std::vector<std::string> patterns);

  /// Reads what is new; true once a pattern has matched.
  bool poll();

  boot_verdict verdict() const;

private:
  void scan(std::string_view chunk);

  std::string path_;
  uint64_t offset_;
  std::vector<std::string> patterns_;
  size_t keep_ = 0;
  std::string carry_;
  std::string line_;
  boot_verdict verdict_;
  bool matched_ = false;
};

} // namespace fwrescue
