#include "policies/policy.hpp"
#include "policies/selection.hpp"

namespace fwrescue {

// The one place policies are named. A new policy is a file in policies/ and a line here.
policy_registry make_policy_registry(const scoring_weights& weights) {
  return {
    {"fastest-link", policies::fastest_link},
    {"first-responder", policies::first_responder},
    {"least-loaded", policies::least_loaded},
    {"newest", policies::newest},
    {"prefer-console", policies::prefer_console},
    {"scored",
     [weights](std::span<const offer_facts> offers) { return policies::scored(offers, weights); }},
  };
}

std::string known_policies(const policy_registry& registry) {
  std::string out;
  for (const auto& [name, fn] : registry)
    out += (out.empty() ? "" : ", ") + name;
  return out;
}

} // namespace fwrescue
