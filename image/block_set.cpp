#include "image/block_set.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

namespace {

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

} // namespace

block_set::block_set(uint64_t block_count, bool all)
  : bits_(block_count, all), count_(all ? block_count : 0) {
}

bool block_set::contains(uint64_t first, uint64_t n) const {
  if (first > bits_.size() || n > bits_.size() - first)
    return false;
  for (auto i = first; i < first + n; ++i)
    if (!bits_[i])
      return false;
  return true;
}

void block_set::insert(uint64_t index) {
  if (index < bits_.size() && !bits_[index]) {
    bits_[index] = true;
    ++count_;
  }
}

std::vector<uint8_t> block_set::encode(size_t max_bytes) const {
  uint64_t n = bits_.size();
  // Run lengths, missing first (that one may be empty), then held, missing, ...
  std::vector<uint64_t> runs;
  for (uint64_t at = 0; at < n || runs.empty();) {
    bool held = runs.size() % 2 == 1;
    auto end = at;
    while (end < n && bits_[end] == held)
      ++end;
    runs.push_back(end - at);
    at = end;
  }
  size_t total = 0;
  for (auto r : runs)
    total += varint_size(r);
  size_t keep = runs.size();
  if (total > max_bytes) {
    // The longest prefix ending with a held run that fits with one missing run closing the set.
    keep = 0;
    size_t size = 0;
    uint64_t covered = 0;
    for (size_t k = 0; k + 1 < runs.size(); k += 2) {
      size += varint_size(runs[k]) + varint_size(runs[k + 1]);
      covered += runs[k] + runs[k + 1];
      if (size + varint_size(n - covered) > max_bytes)
        break;
      keep = k + 2;
    }
  }
  std::vector<uint8_t> out;
  uint64_t covered = 0;
  for (size_t k = 0; k < keep; ++k) {
    put_varint(out, runs[k]);
    covered += runs[k];
  }
  if (covered < n)
    put_varint(out, n - covered);
  return out;
}

caf::expected<block_set> block_set::decode(std::span<const uint8_t> bytes, uint64_t block_count) {
  block_set out(block_count);
  uint64_t at = 0;
  bool held = false;
  size_t pos = 0;
  size_t runs = 0;
  while (pos < bytes.size()) {
    uint64_t v = 0;
    int shift = 0;
    while (true) {
      if (pos >= bytes.size())
        return make_error(errc::malformed, "block set: a run length is cut short");
      auto b = bytes[pos++];
      if (shift == 63 && (b & 0x7e) != 0)
        return make_error(errc::malformed, "block set: a run length passes 64 bits");
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0)
        break;
      shift += 7;
      if (shift > 63)
        return make_error(errc::malformed, "block set: a run length passes 64 bits");
    }
    if (v == 0 && runs > 0)
      return make_error(errc::malformed, "block set: an empty run after the first");
    if (v > block_count - at)
      return make_error(errc::malformed,
                        fmt::format("block set: runs pass the image's {} blocks", block_count));
    if (held)
      for (auto i = at; i < at + v; ++i)
        out.bits_[i] = true;
    if (held)
      out.count_ += v;
    at += v;
    held = !held;
    ++runs;
  }
  if (at != block_count)
    return make_error(errc::malformed, fmt::format("block set: runs cover {} of the image's {} blocks",
                                                   at, block_count));
  return out;
}

} // namespace fwrescue
