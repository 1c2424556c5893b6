#include "actors/negotiation.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "hal/boot_history.hpp"

namespace fwrescue {

negotiation_result negotiate(const offers_collected& offers, const compatibility_rules& rules,
                             const std::string& policy_name, const selection_policy& policy,
                             const donor_history& history, uint64_t link_rate_bps) {
  negotiation_result result;
  result.policy = policy_name;
  result.verdicts = offers.rejected;
  std::vector<const candidate*> compatible;
  std::vector<size_t> verdict_of; // index into result.verdicts for each compatible offer
  std::vector<offer_facts> facts;
  for (size_t i = 0; i < offers.offers.size(); ++i) {
    const auto& c = offers.offers[i];
    const auto& f = c.source.fields;
    offer_verdict v{f.donor,
                    to_string(c.role),
                    c.manifest.fields.version,
                    c.manifest.fields.svn,
                    false,
                    incompatibility(c.manifest, rules),
                    0};
    v.compatible = v.reason.empty();
    if (v.compatible) {
      compatible.push_back(&c);
      verdict_of.push_back(result.verdicts.size());
      auto h = history.find(f.donor);
      auto past = h != history.end() ? h->second : donor_history_entry{};
      facts.push_back({.donor = f.donor,
                       .role = c.role,
                       .svn = c.manifest.fields.svn,
                       .version = c.manifest.fields.version,
                       .active_uploads = f.active_uploads,
                       .max_uploads = f.max_uploads,
                       .rtt_us = c.rtt_us,
                       .arrival = static_cast<uint32_t>(i),
                       .image_size = c.manifest.fields.image_size,
                       .link_rate_bps = c.link_rate_bps != 0 ? c.link_rate_bps : link_rate_bps,
                       .recent_failures = past.recent_failures,
                       .recent_bad_blocks = past.recent_bad_blocks});
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

compatibility_rules node_rules(const node_context& ctx) {
  compatibility_rules rules;
  rules.platform = ctx.config.platform;
  rules.component = ctx.config.flash.component;
  auto stored = ctx.store->svn_floor();
  rules.svn_floor = std::max(ctx.config.svn_floor, stored ? *stored : 0u);
  rules.flash_size = ctx.chip->geometry().size;
  rules.trusted_keys = ctx.trusted_keys;
  rules.allowed_versions = ctx.config.policy.allowed_versions;
  rules.pinned_version = ctx.config.policy.pin_version;
  rules.allow_downgrade = ctx.config.policy.allow_downgrade;
  if (auto revoked = ctx.store->revocations(); !revoked)
    rules.revocation_error = "the stored revocation list cannot be read, so what it revokes "
                             "is unknown: "
                             + describe(revoked.error());
  else if (*revoked)
    rules.revoked = (*revoked)->fields;
  // Without the installed manifest a downgrade cannot be recognised; the floor still holds.
  auto installed = ctx.store->installed_manifest();
  if (!installed)
    ctx.log->warn("negotiation", "cannot read the installed manifest: {}",
                  describe(installed.error()));
  else if (*installed)
    rules.installed_svn = (*installed)->fields.svn;
  if (auto failed = boot_history{ctx.store->dir()}.failed_roots(); !failed) {
    ctx.log->warn("negotiation", "cannot read the images that failed to boot: {}",
                  describe(failed.error()));
  } else {
    rules.failed_roots = std::move(*failed);
    // An installed image that failed to boot does not hold back the one before it: only the
    // svn floor does.
    if (installed && *installed
        && std::find(rules.failed_roots.begin(), rules.failed_roots.end(),
                     (*installed)->fields.merkle_root)
             != rules.failed_roots.end())
      rules.installed_svn.reset();
  }
  return rules;
}

caf::behavior negotiation(caf::stateful_actor<negotiation_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  return {
    [=](start_atom) {},
    [=](offers_collected& offers) -> negotiation_result {
      const auto& ctx = *self->state.ctx;
      auto rules = node_rules(ctx);
      const auto& name = ctx.config.recovery.policy;
      auto rate = ctx.link ? ctx.link->properties().nominal_rate_bps : 0;
      auto result = negotiate(offers, rules, name, ctx.policies.at(name), offers.history, rate);
      for (const auto& v : result.verdicts) {
        ctx.metrics->offers.add({ctx.target, v.compatible ? "compatible" : "incompatible"});
        if (v.compatible)
          ctx.log->info("negotiation", "offer from {} ({}, {} svn {}): rank {} under {}", v.donor,
                        v.role, v.version, v.svn, v.rank, name);
        else
          ctx.log->info("negotiation", "offer from {} ({}): not compatible: {}", v.donor, v.role,
                        v.reason);
      }
      return result;
    },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
