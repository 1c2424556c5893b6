#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/manifest.hpp"

namespace fwrescue {

/// One watched boot of the host.
struct boot_record {
  /// Seconds since the Unix epoch, when the verdict was reached.
  int64_t at = 0;
  /// The installed image's Merkle root at the time (all zero when none was recorded).
  digest root{};
  bool booted = false;
  /// "booted", "no_output" or "no_pattern".
  std::string outcome;
  /// One printable line: what matched, or what the console showed last.
  std::string detail;
};

/// The boot history of the host in a state directory, and the images that failed to boot on it.
/// Both files are small text files replaced atomically, and bounded: the history keeps its last
/// max_boot_records records, the failed list its last max_failed_roots roots (an image request
/// carries at most that many). A file that cannot be parsed is an error naming it, never an
/// empty history: a lost record of a failed image would let it be flashed again.
///
/// Files: boot_history ("<at> <booted|failed> <root hex> <outcome> <detail>" per line) and
/// failed_roots (one root in hex per line).
class boot_history {
public:
  static constexpr size_t max_boot_records = 32;
  static constexpr size_t max_failed_roots = 8;

  explicit boot_history(std::string dir);

  caf::expected<std::vector<boot_record>> records() const;
  /// Appends `r`, dropping the oldest records beyond the bound.
  caf::error record(boot_record r);

  caf::expected<std::vector<digest>> failed_roots() const;
  /// Adds `root` (once), dropping the oldest beyond the bound.
  caf::error add_failed_root(const digest& root);

private:
  std::string history_path() const;
  std::string failed_path() const;

  std::string dir_;
};

/// How many of the last records, in a row, are failed boots of `root`.
uint32_t failures_in_a_row(const std::vector<boot_record>& history, const digest& root);

} // namespace fwrescue
