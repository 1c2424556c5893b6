#pragma once

#include <string>
#include <vector>

#include "policies/policy.hpp"

namespace fwrescue::test {

/// One row of a policy table: offers in arrival order and the donors in the expected order.
struct ranking_case {
  std::string what;
  std::vector<offer_facts> offers;
  std::vector<std::string> expected;
};

/// `offers` with arrival numbered by position, as negotiation numbers them.
inline std::vector<offer_facts> arrived_in_order(std::vector<offer_facts> offers) {
  for (size_t i = 0; i < offers.size(); ++i)
    offers[i].arrival = static_cast<uint32_t>(i);
  return offers;
}

/// The donors of `offers` in the order `policy` ranks them.
template <class Policy>
std::vector<std::string> ranked_donors(const Policy& policy,
                                       const std::vector<offer_facts>& offers) {
  std::vector<std::string> out;
  for (auto i : policy(offers))
    out.push_back(offers.at(i).donor);
  return out;
}

} // namespace fwrescue::test
