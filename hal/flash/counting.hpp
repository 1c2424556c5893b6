#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "hal/flash.hpp"

namespace fwrescue {

/// Writes asked of a flash through its interface, as counted by counting_flash.
struct flash_request_counts {
  uint64_t erases = 0;
  uint64_t erase_bytes = 0;
  /// program() and program_range() calls.
  uint64_t programs = 0;
  uint64_t program_bytes = 0;
  uint64_t rewrites = 0;
  uint64_t rewrite_bytes = 0;
};

/// Counts the erases, programs and rewrites that succeed through it, whoever calls them (the
/// flasher's writes, its second writes after a read-back, a test's), and passes every call on.
/// It counts requests, not what the chip did: a rewrite may skip sectors that already read
/// erased, and a programmer may plan its own erases. The chip's own operations, where the
/// backend counts them, are op_counts(), passed through.
class counting_flash : public flash {
public:
  explicit counting_flash(std::shared_ptr<flash> chip);

  flash_geometry geometry() const override;
  caf::error read(uint64_t offset, std::span<uint8_t> out) override;
  caf::error erase(uint64_t offset, uint64_t length) override;
  caf::error program(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error program_range(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error rewrite(uint64_t offset, std::span<const uint8_t> data) override;
  caf::error set_write_protect(bool on) override;
  std::optional<flash_op_counts> op_counts() const override;

  /// The requests counted so far; read from any thread.
  flash_request_counts requests() const;

private:
  std::shared_ptr<flash> chip_;
  std::atomic<uint64_t> erases_{0};
  std::atomic<uint64_t> erase_bytes_{0};
  std::atomic<uint64_t> programs_{0};
  std::atomic<uint64_t> program_bytes_{0};
  std::atomic<uint64_t> rewrites_{0};
  std::atomic<uint64_t> rewrite_bytes_{0};
};

} // namespace fwrescue
