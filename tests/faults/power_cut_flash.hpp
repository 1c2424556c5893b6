#pragma once

// A flash backend for the power-loss campaign (tests/faults/power_loss_test.sh, docs/faults.md):
// it passes every call to the real chip (file_flash: the file is the chip) and "cuts power" at a
// chosen point by ending the process at once with _exit: no destructor, no flush, no further
// write. What the file holds then is what the chip would hold after the power came back.
//
// Erases and programs are counted separately, over the process's life:
//  - erase k: the k-th sector erased. An erase() over several sectors is done, and counted,
//    sector by sector, as a chip's sector-erase commands are; the cut follows the k-th.
//  - program k: the k-th page program, i.e. program() call. program_range() is split into page
//    programs (skipping pages of all 0xff, as the chip driver does), each counted.
//  - half-program k: the k-th page program is cut in the middle: the first half of its bytes is
//    programmed (ANDed into the cells, as a NOR chip does), the rest not at all.
//  - half-erase k: the k-th sector erase is cut in the middle: the first half of the sector
//    reads 0xff, the rest as it was. (A real chip's interrupted erase leaves cells anywhere
//    between; this is one such state.)
// Whenever write protection goes back on (the end of a flasher's write session), the totals so
// far are written to stderr, so a run with no cut tells how many cut points a recovery has.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "hal/flash.hpp"

namespace fwrescue::faults {

/// Where the power goes.
struct cut_point {
  enum class kind { none, erase, half_erase, program, half_program };
  kind at = kind::none;
  /// 1-based count of the operation of that kind: sector erases for `erase` and `half_erase`,
  /// page programs for `program` and `half_program`.
  uint64_t k = 0;
};

/// Parses "erase:K", "half-erase:K", "program:K", "half-program:K" (K >= 1), or "" / "none"
/// for no cut.
caf::expected<cut_point> parse_cut_point(std::string_view text);

std::string to_string(const cut_point& cut);

/// The exit code of a process whose power was cut (a real power loss has none; this one tells a
/// cut from a crash in a test's wait).
constexpr int power_cut_exit_code = 86;

class power_cut_flash : public flash {
public:
  power_cut_flash(std::shared_ptr<flash> chip, cut_point cut);

  flash_geometry geometry() const override;
  caf::error read(uint64_t offset, std::span<uint8_t> out) override;
  caf::error erase(uint64_t offset, uint64_t length) override;
  caf::error program(uint64_t offset, std::span<const uint8_t> data) override;
  // program_range is flash's: one program() per page, so that every page program is counted.
  caf::error set_write_protect(bool on) override;

  uint64_t erases() const {
    return erases_;
  }
  uint64_t programs() const {
    return programs_;
  }

private:
  /// Leaves the sector at `at` as an erase cut half way would: its first half 0xff.
  caf::error half_erase(uint64_t at, uint32_t sector);

  /// Writes "power-cut: cut after <what>" to stderr and ends the process at once.
  [[noreturn]] void cut(const std::string& what) const;

  std::shared_ptr<flash> chip_;
  cut_point cut_;
  std::atomic<uint64_t> erases_{0};
  std::atomic<uint64_t> programs_{0};
  bool protected_ = false;
};

} // namespace fwrescue::faults
