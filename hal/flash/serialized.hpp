#pragma once

#include <memory>
#include <mutex>

#include "hal/flash.hpp"

namespace fwrescue {

/// The one owner of a chip: the monitor's checks, the donor's reads and the flasher's writes run
/// on different threads, and every one of their calls goes through here, one at a time. A
/// programmer cannot interleave two operations (libflashrom keeps global state, and a SPI
/// transaction is not reentrant), and a read that ran between a write's erase and its program
/// would see a half-written sector. Each call is one lock: a reader waits at most for one
/// rewrite of a run (about a megabyte), never for a whole flash.
class serialized_flash : public flash {
public:
  explicit serialized_flash(std::shared_ptr<flash> chip);

  flash_geometry geometry() const override;
  caf::error read(uint64_t offset, std::span<uint8_t> out) override;
  caf::error erase(uint64_t offset, uint64_t length) override;
  caf::error program(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error program_range(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error rewrite(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error set_write_protect(bool on) override;
  std::optional<flash_op_counts> op_counts() const override;

private:
  std::shared_ptr<flash> chip_;
  /// Geometry does not change while the chip is open; it is read once, without the lock.
  flash_geometry geometry_;
  mutable std::mutex mutex_;
};

} // namespace fwrescue
