#include "hal/flash/serialized.hpp"

namespace fwrescue {

serialized_flash::serialized_flash(std::shared_ptr<flash> chip)
  : chip_(std::move(chip)), geometry_(chip_->geometry()) {
}

flash_geometry serialized_flash::geometry() const {
  return geometry_;
}

caf::error serialized_flash::read(uint64_t offset, std::span<uint8_t> out) {
  std::lock_guard<std::mutex> guard{mutex_};
  return chip_->read(offset, out);
}

caf::error serialized_flash::erase(uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> guard{mutex_};
  return chip_->erase(offset, length);
}

caf::error serialized_flash::program(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard<std::mutex> guard{mutex_};
  return chip_->program(offset, data);
}

caf::error serialized_flash::program_range(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard<std::mutex> guard{mutex_};
  return chip_->program_range(offset, data);
}

caf::error serialized_flash::rewrite(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard<std::mutex> guard{mutex_};
  return chip_->rewrite(offset, data);
}

caf::error serialized_flash::set_write_protect(bool on) {
  std::lock_guard<std::mutex> guard{mutex_};
  return chip_->set_write_protect(on);
}

std::optional<flash_op_counts> serialized_flash::op_counts() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return chip_->op_counts();
}

} // namespace fwrescue
