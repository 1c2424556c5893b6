#include "image/verified_blocks.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

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
  preparing_.clear(); // joins
  ::munmap(bytes_, image_size_);
}

void verified_blocks::prepare_in_background(const std::vector<leaf_range>& blocks,
                                            unsigned threads) {
  // Pieces of a megabyte at most, dealt out in turn: each call holds the address space's lock
  // only briefly, and the threads share the work evenly.
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
  auto per_piece = std::max<uint64_t>(1, (1 << 20) / block_size_);
  in_background_.assign(held_.size(), false);
  for (auto range : blocks) {
    auto first = range.first;
    auto end = std::min<uint64_t>(range.end, held_.size());
    for (auto at = std::min<uint64_t>(first, end); at < end; at += per_piece)
      pieces.emplace_back(at, std::min(at + per_piece, end));
    std::fill(in_background_.begin() + static_cast<ptrdiff_t>(std::min<uint64_t>(first, end)),
              in_background_.begin() + static_cast<ptrdiff_t>(end), true);
  }
  threads = std::clamp<unsigned>(threads, 1, static_cast<unsigned>(std::max<size_t>(pieces.size(), 1)));
  for (unsigned t = 0; t < threads && !pieces.empty(); ++t)
    preparing_.emplace_back([this, pieces, t, threads] {
      for (size_t k = t; k < pieces.size(); k += threads)
        prepare_pages(pieces[k].first, pieces[k].second - pieces[k].first);
    });
}

bool verified_blocks::adopt(const digest& root, uint64_t image_size, uint32_t block_size) {
  if (image_size != image_size_ || block_size != block_size_
      || std::any_of(held_.begin(), held_.end(), [](bool held) { return held; }))
    return false;
  root_ = root;
  return true;
}

void verified_blocks::prepare(uint64_t first, uint64_t count) {
  // Blocks given to the background threads are theirs: asking the kernel again for pages it
  // has already mapped still walks them one by one.
  if (!in_background_.empty() && first < held_.size()
      && std::all_of(in_background_.begin() + static_cast<ptrdiff_t>(first),
                     in_background_.begin()
                       + static_cast<ptrdiff_t>(std::min<uint64_t>(first + count, held_.size())),
                     [](bool b) { return b; }))
    return;
  prepare_pages(first, count);
}

void verified_blocks::prepare_pages(uint64_t first, uint64_t count) {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  auto from = std::min(first * block_size_, image_size_) / page * page;
  auto to = std::min((first + count) * block_size_, image_size_);
  if (from < to)
    (void)::madvise(bytes_ + from, to - from, MADV_POPULATE_WRITE);
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
