#include "image/verified_blocks.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/mman.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

caf::expected<std::shared_ptr<verified_blocks>>
verified_blocks::make(const digest& root, uint64_t image_size, uint32_t block_size) {
  if (image_size == 0 || block_size == 0)
    return make_error(errc::invalid_argument, "no blocks to keep in memory");
  void* p = ::mmap(nullptr, image_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return make_error(errc::io_failure, fmt::format("cannot map {} bytes of memory: {}",
                                                    image_size, std::strerror(errno)));
  return std::shared_ptr<verified_blocks>(
    new verified_blocks(root, image_size, block_size, static_cast<uint8_t*>(p)));
}

verified_blocks::verified_blocks(const digest& root, uint64_t image_size, uint32_t block_size,
                                 uint8_t* bytes)
  : root_(root),
    image_size_(image_size),
    block_size_(block_size),
    bytes_(bytes),
    held_((image_size + block_size - 1) / block_size, false) {
}

verified_blocks::~verified_blocks() {
  ::munmap(bytes_, image_size_);
}

bool verified_blocks::put(uint64_t index, std::span<const uint8_t> bytes) {
  auto offset = index * block_size_;
  if (index >= held_.size() || bytes.size() != std::min<uint64_t>(block_size_, image_size_ - offset))
    return false;
  std::copy(bytes.begin(), bytes.end(), bytes_ + offset);
  held_[index] = true;
  return true;
}

} // namespace fwrescue
