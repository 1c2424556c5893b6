#include "policies/block_picker.hpp"

#include <algorithm>
#include <limits>

namespace fwrescue {

void add_block(std::vector<block_run>& runs, uint64_t i, uint32_t max_run) {
  if (!runs.empty() && runs.back().first + runs.back().count == i && runs.back().count < max_run)
    ++runs.back().count;
  else
    runs.push_back({i, 1});
}

std::vector<block_run> pick_runs(const std::vector<bool>& have, const std::vector<uint16_t>& claims,
                                 const block_holder& asked, std::span<const block_holder> others,
                                 uint64_t start, uint64_t need, uint32_t max_run) {
  std::vector<block_run> out;
  auto n = have.size();
  if (n == 0 || need == 0 || max_run == 0)
    return out;
  start %= n;
  bool partial = asked.holds != nullptr
                 || std::any_of(others.begin(), others.end(),
                                [](const block_holder& h) { return h.holds != nullptr; });
  auto eligible = [&](uint64_t i) { return !have[i] && claims[i] == 0 && asked.has(i); };
  auto holders = [&](uint64_t i, bool peers_only) {
    uint32_t k = 0;
    for (const auto& o : others)
      if ((!peers_only || !o.console) && o.has(i))
        ++k;
    return k;
  };
  // A block's rank: how many other donors hold it. With every donor holding the whole image it
  // is the same for all blocks and needs no counting.
  auto rank = [&](uint64_t i) -> uint32_t { return partial ? holders(i, false) : 0; };
  auto allowed = [&](uint64_t i) { return !asked.console || holders(i, true) == 0; };
  uint32_t best = std::numeric_limits<uint32_t>::max();
  for (uint64_t k = 0; k < n; ++k) {
    auto i = (start + k) % n;
    if (eligible(i) && allowed(i))
      best = std::min(best, rank(i));
    if (best == 0 && !partial)
      break;
  }
  if (best == std::numeric_limits<uint32_t>::max())
    return out;
  uint64_t taken = 0;
  for (uint64_t k = 0; k < n && taken < need; ++k) {
    auto i = (start + k) % n;
    if (!eligible(i) || !allowed(i) || rank(i) != best)
      continue;
    add_block(out, i, max_run);
    ++taken;
  }
  return out;
}

} // namespace fwrescue
