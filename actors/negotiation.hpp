#pragma once

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "messages/node_events.hpp"
#include "policies/compatibility.hpp"

namespace fwrescue {

struct negotiation_state {
  context_ptr ctx;
  static inline const char* name = "negotiation";
};

/// Judges collected offers: compatibility first (with the reason for each rejection), then the
/// configured selection policy orders the compatible ones. Replies to the coordinator with a
/// negotiation_result.
caf::behavior negotiation(caf::stateful_actor<negotiation_state>* self, context_ptr ctx);

/// What any image this node takes must satisfy, from its configuration and what it has stored
/// (svn floor, revocations, installed image, images that failed to boot); the same for offers
/// from peers and images found at any location. Problems reading the store are logged.
compatibility_rules node_rules(const node_context& ctx);

/// The pure part of negotiation, for tests: judge and rank `offers` under `rules` and `policy`.
/// `history` gives each donor's recent failures and bad blocks, `link_rate_bps` the nominal rate
/// of the link the offers came over (0 when unknown), both for the policy to weigh.
negotiation_result negotiate(const offers_collected& offers, const compatibility_rules& rules,
                             const std::string& policy_name, const selection_policy& policy,
                             const donor_history& history = {}, uint64_t link_rate_bps = 0);

} // namespace fwrescue
