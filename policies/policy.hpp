#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "messages/node.hpp"
#include "policies/scoring_weights.hpp"

namespace fwrescue {

/// What a selection policy may look at for one compatible offer. Plain values only, so a policy
/// is a pure function a table of cases can test. Every member has an initialiser so a table may
/// name only the fields a case is about (`{.donor = "a", .svn = 3}`) without a g++ warning.
struct offer_facts {
  std::string donor{};
  node_role role = node_role::peer;
  uint32_t svn = 0;
  std::string version{};
  uint32_t active_uploads = 0;
  uint32_t max_uploads = 0;
  /// Request-to-offer round trip in microseconds.
  uint64_t rtt_us = 0;
  /// Order of arrival, 0 first.
  uint32_t arrival = 0;
  /// Size of the offered image in bytes (from its manifest).
  uint64_t image_size = 0;
  /// Nominal rate of the link the offer came over, in bits per second; 0 when unknown.
  uint64_t link_rate_bps = 0;
  /// Donor history: transfers from this donor that failed recently, and blocks it sent that
  /// failed verification recently.
  uint32_t recent_failures = 0;
  uint32_t recent_bad_blocks = 0;
};

/// What the recipient remembers about one donor; the source of offer_facts' history fields.
struct donor_history_entry {
  uint32_t recent_failures = 0;
  uint32_t recent_bad_blocks = 0;
};

/// Donor history by donor node id; a donor that is absent has a clean history.
using donor_history = std::map<std::string, donor_history_entry, std::less<>>;

/// A selection policy: returns the indices of `offers` in order of preference. Every index
/// appears once; ties break by donor node id so the order is deterministic.
using selection_policy = std::function<std::vector<size_t>(std::span<const offer_facts> offers)>;

/// Policies by name, built in main() and passed to the negotiation actor.
using policy_registry = std::map<std::string, selection_policy>;

/// The registry of every policy this build has. `weights` are those of the `scored` policy
/// ([policy.scored]); the other policies take no parameters.
policy_registry make_policy_registry(const scoring_weights& weights = {});

/// "fastest-link, first-responder, …" — for errors naming the known policies.
std::string known_policies(const policy_registry& registry);

} // namespace fwrescue
