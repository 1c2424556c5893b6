#pragma once

#include <algorithm>
#include <numeric>
#include <optional>
#include <span>
#include <vector>

#include "policies/policy.hpp"

namespace fwrescue::policies {

/// Indices of `offers` sorted by `before(i, j)` over indices, ties broken by donor node id
/// (then arrival) so that the same offers always give the same order. For policies that rank
/// by something computed per offer beforehand, such as a score.
template <class Less>
std::vector<size_t> order_by_index(std::span<const offer_facts> offers, Less before) {
  std::vector<size_t> order(offers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) {
    if (before(i, j))
      return true;
    if (before(j, i))
      return false;
    const auto& a = offers[i];
    const auto& b = offers[j];
    if (a.donor != b.donor)
      return a.donor < b.donor;
    return a.arrival < b.arrival;
  });
  return order;
}

/// Indices of `offers` sorted by `before(a, b)` over offers, with the same tie break.
template <class Less>
std::vector<size_t> order_by(std::span<const offer_facts> offers, Less before) {
  return order_by_index(offers, [&](size_t i, size_t j) { return before(offers[i], offers[j]); });
}

/// Share of the donor's upload slots in use: active / max. A donor with no slots counts as
/// fully loaded (1), so it never looks better than one that has a free slot.
double load_share(const offer_facts& offer);

/// Estimated transfer time in microseconds: round trip plus image_size * 8 / link rate; empty
/// when the link rate is unknown.
std::optional<double> estimated_time_us(const offer_facts& offer);

// The policies, one file each (docs/policies.md). Pure functions of the offers at hand.
std::vector<size_t> first_responder(std::span<const offer_facts> offers);
std::vector<size_t> prefer_console(std::span<const offer_facts> offers);
std::vector<size_t> newest(std::span<const offer_facts> offers);
std::vector<size_t> least_loaded(std::span<const offer_facts> offers);
std::vector<size_t> fastest_link(std::span<const offer_facts> offers);
std::vector<size_t> scored(std::span<const offer_facts> offers, const scoring_weights& weights);

/// The `scored` policy's score of each offer (same order as `offers`), higher is better; for
/// tests and for explaining a choice.
std::vector<double> scores(std::span<const offer_facts> offers, const scoring_weights& weights);

} // namespace fwrescue::policies
