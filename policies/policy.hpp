#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "messages/node.hpp"

namespace fwrescue {

/// What a selection policy may look at for one compatible offer. Plain values only, so a policy
/// is a pure function a table of cases can test.
struct offer_facts {
  std::string donor;
  node_role role = node_role::peer;
  uint32_t svn = 0;
  std::string version;
  uint32_t active_uploads = 0;
  uint32_t max_uploads = 0;
  /// Request-to-offer round trip in microseconds.
  uint64_t rtt_us = 0;
  /// Order of arrival, 0 first.
  uint32_t arrival = 0;
};

/// A selection policy: returns the indices of `offers` in order of preference. Every index
/// appears once; ties break by donor node id so the order is deterministic.
using selection_policy = std::function<std::vector<size_t>(std::span<const offer_facts> offers)>;

/// Policies by name, built in main() and passed to the negotiation actor.
using policy_registry = std::map<std::string, selection_policy>;

/// The registry of every policy this build has.
policy_registry make_policy_registry();

/// "first-responder, prefer-console" — for errors naming the known policies.
std::string known_policies(const policy_registry& registry);

} // namespace fwrescue
