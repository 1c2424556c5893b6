#include "image/block_scan.hpp"

#include <algorithm>

#include "image/hash.hpp"

namespace fwrescue {

uint64_t mark_present(const signed_manifest& m, std::vector<bool>& have, const image_reader& read,
                      uint64_t source_size) {
  const auto& f = m.fields;
  auto n = f.block_count();
  std::vector<bool> look(n);
  for (uint64_t i = 0; i < n; ++i)
    look[i] = !have[i] && i * f.block_size + f.block_length(i) <= source_size;
  uint64_t found = 0;
  auto per_chunk = std::max<uint64_t>(1, (1 << 20) / f.block_size);
  std::vector<uint8_t> bytes;
  std::vector<digest> digests(per_chunk);
  for (uint64_t first = 0; first < n; first += per_chunk) {
    auto end = std::min(n, first + per_chunk);
    while (end > first && !look[end - 1])
      --end;
    if (std::none_of(look.begin() + static_cast<ptrdiff_t>(first),
                     look.begin() + static_cast<ptrdiff_t>(end), [](bool b) { return b; }))
      continue;
    bytes.resize((end - 1 - first) * f.block_size + f.block_length(end - 1));
    if (read(first * f.block_size, std::span{bytes}))
      continue;
    leaf_digests(f.hash, f.block_size, first, bytes, std::span{digests}.first(end - first),
                 hash_threads());
    for (auto i = first; i < end; ++i) {
      if (!look[i] || digests[i - first] != m.block_digests[i])
        continue;
      have[i] = true;
      ++found;
    }
  }
  return found;
}

} // namespace fwrescue
