#include "image/merkle.hpp"

#include <algorithm>
#include <cassert>
#include <stdexcept>

namespace fwrescue {

namespace {

std::vector<digest> next_level(hash_algorithm alg, const std::vector<digest>& below) {
  std::vector<digest> up;
  up.reserve((below.size() + 1) / 2);
  for (size_t i = 0; i + 1 < below.size(); i += 2)
    up.push_back(node_digest(alg, below[i], below[i + 1]));
  if (below.size() % 2 == 1)
    up.push_back(below.back());
  return up;
}

void append_range(std::vector<leaf_range>& out, uint64_t first, uint64_t end) {
  if (!out.empty() && out.back().end == first)
    out.back().end = end;
  else
    out.push_back({first, end});
}

void diff_node(const merkle_tree& ours, const merkle_tree& theirs, size_t k, uint64_t i,
               std::vector<leaf_range>& out) {
  if (ours.level(k)[i] == theirs.level(k)[i])
    return;
  if (k == 0) {
    append_range(out, i, i + 1);
    return;
  }
  auto below = ours.level(k - 1).size();
  diff_node(ours, theirs, k - 1, 2 * i, out);
  if (2 * i + 1 < below)
    diff_node(ours, theirs, k - 1, 2 * i + 1, out);
}

} // namespace

merkle_tree::merkle_tree(hash_algorithm alg, std::vector<digest> leaves) : alg_(alg) {
  if (leaves.empty())
    throw std::invalid_argument("merkle_tree needs at least one leaf");
  levels_.push_back(std::move(leaves));
  while (levels_.back().size() > 1)
    levels_.push_back(next_level(alg_, levels_.back()));
}

std::vector<digest> merkle_tree::auth_path(uint64_t index) const {
  assert(index < leaf_count());
  std::vector<digest> path;
  for (size_t k = 0; k + 1 < levels_.size(); ++k, index >>= 1) {
    auto sibling = index ^ 1;
    if (sibling < levels_[k].size())
      path.push_back(levels_[k][sibling]);
  }
  return path;
}

tree_builder::tree_builder(hash_algorithm alg, uint32_t block_size, unsigned threads)
  : alg_(alg), block_size_(block_size), threads_(threads) {
  partial_.reserve(block_size);
}

void tree_builder::update(std::span<const uint8_t> bytes) {
  bytes_seen_ += bytes.size();
  if (!partial_.empty()) {
    auto take = std::min<size_t>(block_size_ - partial_.size(), bytes.size());
    partial_.insert(partial_.end(), bytes.begin(), bytes.begin() + take);
    bytes = bytes.subspan(take);
    if (partial_.size() < block_size_)
      return;
    leaves_.push_back(leaf_digest(alg_, leaves_.size(), partial_));
    partial_.clear();
  }
  auto whole = bytes.size() / block_size_;
  auto first = leaves_.size();
  leaves_.resize(first + whole);
  leaf_digests(alg_, block_size_, first, bytes.first(whole * block_size_),
               std::span{leaves_}.subspan(first), threads_);
  bytes = bytes.subspan(whole * block_size_);
  partial_.assign(bytes.begin(), bytes.end());
}

merkle_tree tree_builder::finish() && {
  if (!partial_.empty())
    leaves_.push_back(leaf_digest(alg_, leaves_.size(), partial_));
  return merkle_tree{alg_, std::move(leaves_)};
}

bool verify_auth_path(hash_algorithm alg, uint64_t leaf_count, uint64_t index, const digest& leaf,
                      std::span<const digest> path, const digest& root) {
  if (index >= leaf_count)
    return false;
  auto current = leaf;
  size_t used = 0;
  for (uint64_t width = leaf_count; width > 1; width = (width + 1) / 2, index >>= 1) {
    auto sibling = index ^ 1;
    if (sibling >= width)
      continue; // last node of an odd level moves up unpaired
    if (used == path.size())
      return false;
    const auto& other = path[used++];
    current = (index & 1) ? node_digest(alg, other, current) : node_digest(alg, current, other);
  }
  return used == path.size() && current == root;
}

std::vector<leaf_range> diff(const merkle_tree& ours, const merkle_tree& theirs) {
  std::vector<leaf_range> out;
  if (ours.leaf_count() != theirs.leaf_count() || ours.algorithm() != theirs.algorithm()) {
    out.push_back({0, theirs.leaf_count()});
    return out;
  }
  diff_node(ours, theirs, ours.height() - 1, 0, out);
  return out;
}

} // namespace fwrescue
