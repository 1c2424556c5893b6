#include "actors/negotiation.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace fwrescue {

negotiation_result negotiate(const offers_collected& offers, const compatibility_rules& rules,
                             const std::string& policy_name, const selection_policy& policy) {
  negotiation_result result;
  result.policy = policy_name;
  result.verdicts = offers.rejected;
  std::vector<const candidate*> compatible;
  std::vector<size_t> verdict_of; // index into result.verdicts for each compatible offer
  std::vector<offer_facts> facts;
  for (size_t i = 0; i < offers.offers.size(); ++i) {
    const auto& c = offers.offers[i];
    const auto& f = c.source.fields;
    offer_verdict v{f.donor, to_string(f.role), c.manifest.fields.version,
                    c.manifest.fields.svn, false, incompatibility(c.manifest, rules), 0};
    v.compatible = v.reason.empty();
    if (v.compatible) {
      compatible.push_back(&c);
      verdict_of.push_back(result.verdicts.size());
      facts.push_back({f.donor, f.role, c.manifest.fields.svn, c.manifest.fields.version,
                       f.active_uploads, f.max_uploads, c.rtt_us, static_cast<uint32_t>(i)});
    }
    result.verdicts.push_back(std::move(v));
  }
  auto order = policy(facts);
  uint32_t rank = 0;
  for (auto i : order) {
    result.ranked.push_back(*compatible[i]);
    result.verdicts[verdict_of[i]].rank = ++rank;
  }
  return result;
}

caf::behavior negotiation(caf::stateful_actor<negotiation_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  return {
    [=](offers_collected& offers) -> negotiation_result {
      const auto& ctx = *self->state.ctx;
      compatibility_rules rules;
      rules.platform = ctx.config.platform;
      auto stored = ctx.store->svn_floor();
      rules.svn_floor = std::max(ctx.config.svn_floor, stored ? *stored : 0u);
      rules.flash_size = ctx.chip->geometry().size;
      rules.trusted_keys = ctx.trusted_keys;
      const auto& name = ctx.config.recovery.policy;
      auto result = negotiate(offers, rules, name, ctx.policies.at(name));
      for (const auto& v : result.verdicts) {
        if (v.compatible)
          ctx.log->info("negotiation", "offer from {} ({}, {} svn {}): rank {} under {}",
                        v.donor, v.role, v.version, v.svn, v.rank, name);
        else
          ctx.log->info("negotiation", "offer from {} ({}): not compatible: {}", v.donor,
                        v.role, v.reason);
      }
      return result;
    },
  };
}

} // namespace fwrescue
