#include "image/tree_walk.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

namespace {

caf::error bad_nodes(const std::string& what) {
  return make_error(errc::content_mismatch, what);
}

/// Two ranges of a level this close are asked for as one: a request and its answer cost about
/// 110 bytes beyond their digests, more than the two digests of the pair in between.
constexpr uint64_t max_gap_nodes = 2;

} // namespace

tree_walk::tree_walk(merkle_tree ours, const digest& signed_root) : ours_(std::move(ours)) {
  level_ = static_cast<uint32_t>(ours_.height() - 1);
  if (ours_.root() == signed_root) {
    done_ = true;
    return;
  }
  if (level_ == 0) {
    // A one-block image: its root is its only leaf.
    leaves_[0] = signed_root;
    done_ = true;
    return;
  }
  parents_[0] = signed_root;
  descend();
}

void tree_walk::descend() {
  --level_;
  got_.clear();
  awaited_.clear();
  wanted_.clear();
  auto width = ours_.level(level_).size();
  for (const auto& [i, d] : parents_) {
    auto left = 2 * i;
    if (left + 1 >= width) {
      // The last node of an odd level moves up unpaired: it is its parent.
      got_[left] = d;
      continue;
    }
    if (!wanted_.empty() && wanted_.back().first + wanted_.back().count + max_gap_nodes >= left)
      wanted_.back().count = left + 2 - wanted_.back().first;
    else
      wanted_.push_back({level_, left, 2});
  }
  if (wanted_.empty())
    finish_level();
}

std::vector<node_range> tree_walk::requests(uint64_t max_count) {
  std::vector<node_range> out;
  max_count = std::max<uint64_t>(max_count, 1);
  for (const auto& r : wanted_) {
    for (uint64_t at = r.first; at < r.first + r.count; at += max_count) {
      auto count = std::min(max_count, r.first + r.count - at);
      out.push_back({r.level, at, count});
      for (auto i = at; i < at + count; ++i)
        awaited_.insert(i);
    }
  }
  wanted_.clear();
  return out;
}

caf::error tree_walk::check_parent(uint64_t parent) {
  auto left = got_.find(2 * parent);
  auto right = got_.find(2 * parent + 1);
  if (left == got_.end() || right == got_.end())
    return caf::none;
  // A parent that did not differ (the children were asked for with a neighbour's) is ours,
  // verified as part of its own parent or of an ancestor equal to ours.
  auto differing = parents_.find(parent);
  const auto& expected =
    differing != parents_.end() ? differing->second : ours_.level(level_ + 1)[parent];
  if (node_digest(ours_.algorithm(), left->second, right->second) != expected)
    return bad_nodes(fmt::format("tree nodes {} and {} of level {} do not hash to their parent",
                                 2 * parent, 2 * parent + 1, level_));
  return caf::none;
}

caf::error tree_walk::take(uint32_t level, uint64_t first, std::span<const digest> digests) {
  if (done_ || level != level_)
    return bad_nodes(fmt::format("tree nodes of level {} were not asked for", level));
  for (size_t k = 0; k < digests.size(); ++k) {
    auto i = first + k;
    if (awaited_.erase(i) == 0)
      return bad_nodes(fmt::format("tree node {} of level {} was not asked for", i, level));
    got_[i] = digests[k];
    ++received_;
    if (auto err = check_parent(i / 2))
      return err;
  }
  if (awaited_.empty() && wanted_.empty())
    finish_level();
  return caf::none;
}

void tree_walk::finish_level() {
  auto mine = ours_.level(level_);
  std::map<uint64_t, digest> next;
  for (const auto& [i, d] : got_)
    if (d != mine[i])
      next.emplace(i, d);
  if (level_ == 0) {
    leaves_ = std::move(next);
    done_ = true;
    return;
  }
  parents_ = std::move(next);
  descend();
}

std::vector<digest> tree_walk::leaves() const {
  std::vector<digest> out(ours_.leaves().begin(), ours_.leaves().end());
  for (const auto& [i, d] : leaves_)
    out[i] = d;
  return out;
}

std::vector<leaf_range> tree_walk::differing() const {
  std::vector<leaf_range> out;
  for (const auto& [i, d] : leaves_) {
    if (!out.empty() && out.back().end == i)
      out.back().end = i + 1;
    else
      out.push_back({i, i + 1});
  }
  return out;
}

} // namespace fwrescue
