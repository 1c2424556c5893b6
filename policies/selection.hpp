#pragma once

#include <algorithm>
#include <numeric>
#include <span>
#include <vector>

#include "policies/policy.hpp"

namespace fwrescue::policies {

/// Indices of `offers` sorted by `before`, ties broken by donor node id (then arrival) so that
/// the same offers always give the same order.
template <class Less>
std::vector<size_t> order_by(std::span<const offer_facts> offers, Less before) {
  std::vector<size_t> order(offers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) {
    const auto& a = offers[i];
    const auto& b = offers[j];
    if (before(a, b))
      return true;
    if (before(b, a))
      return false;
    if (a.donor != b.donor)
      return a.donor < b.donor;
    return a.arrival < b.arrival;
  });
  return order;
}

std::vector<size_t> first_responder(std::span<const offer_facts> offers);
std::vector<size_t> prefer_console(std::span<const offer_facts> offers);

} // namespace fwrescue::policies
