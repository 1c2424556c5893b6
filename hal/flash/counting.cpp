#include "hal/flash/counting.hpp"

namespace fwrescue {

namespace {

/// Counts one request of `bytes` when `err` says it succeeded, and passes `err` on.
caf::error count(caf::error err, std::atomic<uint64_t>& ops, std::atomic<uint64_t>& total,
                 uint64_t bytes) {
  if (!err) {
    ops.fetch_add(1, std::memory_order_relaxed);
    total.fetch_add(bytes, std::memory_order_relaxed);
  }
  return err;
}

} // namespace

counting_flash::counting_flash(std::shared_ptr<flash> chip) : chip_(std::move(chip)) {
}

flash_geometry counting_flash::geometry() const {
  return chip_->geometry();
}

caf::error counting_flash::read(uint64_t offset, std::span<uint8_t> out) {
  return chip_->read(offset, out);
}

caf::error counting_flash::erase(uint64_t offset, uint64_t length) {
  return count(chip_->erase(offset, length), erases_, erase_bytes_, length);
}

caf::error counting_flash::program(uint64_t offset, std::span<const uint8_t> data) {
  return count(chip_->program(offset, data), programs_, program_bytes_, data.size());
}

caf::error counting_flash::program_range(uint64_t offset, std::span<const uint8_t> data) {
  return count(chip_->program_range(offset, data), programs_, program_bytes_, data.size());
}

caf::error counting_flash::rewrite(uint64_t offset, std::span<const uint8_t> data) {
  return count(chip_->rewrite(offset, data), rewrites_, rewrite_bytes_, data.size());
}

caf::error counting_flash::set_write_protect(bool on) {
  return chip_->set_write_protect(on);
}

std::optional<flash_op_counts> counting_flash::op_counts() const {
  return chip_->op_counts();
}

flash_request_counts counting_flash::requests() const {
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return {get(erases_),        get(erase_bytes_), get(programs_),
          get(program_bytes_), get(rewrites_),    get(rewrite_bytes_)};
}

} // namespace fwrescue
