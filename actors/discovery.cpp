#include "actors/discovery.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"
#include "image/revocation.hpp"
#include "transports/link_timing.hpp"

namespace fwrescue {

namespace {

using self_ptr = caf::stateful_actor<discovery_state>*;

/// Rejected offers kept for status and the policy's explanation; the rest are only counted.
constexpr size_t max_rejected = 32;

/// Revocation lists looked at per request: donors send one each at most, and only when newer.
constexpr uint32_t max_notices = 4;

std::string source_of(const std::string& from) {
  auto colon = from.rfind(':');
  return colon == std::string::npos ? from : from.substr(0, colon);
}

void reject(discovery_state& st, const offer& o, const std::string& problem) {
  if (st.collected.rejected.size() < max_rejected)
    st.collected.rejected.push_back(
      {o.fields.donor, to_string(o.fields.role), "", 0, false, problem, 0});
  else
    ++st.left_out;
}

/// The role an offer is taken to have. Anyone can make a node key and claim the console role
/// with it; only the keys the operator listed as consoles' are believed.
node_role believed_role(const node_context& ctx, const offer& o) {
  if (o.fields.role != node_role::console)
    return o.fields.role;
  auto& keys = ctx.console_keys;
  return std::find(keys.begin(), keys.end(), o.fields.donor_key) != keys.end() ? node_role::console
                                                                               : node_role::peer;
}

void on_offer(self_ptr self, const std::string& from, const offer& o) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  if (auto problem = offer_problem(o, *st.open); !problem.empty()) {
    ctx.log->warn("discovery", "offer from {} ({}) rejected: {}", o.fields.donor, from, problem);
    if (o.fields.request_id == st.open->request_id)
      reject(st, o, problem);
    return;
  }
  if (auto stored = ctx.store->revocations(); stored && *stored) {
    if (revokes((*stored)->fields, o.fields.donor_key)) {
      auto problem =
        fmt::format("its node key is revoked (revocation list {})", (*stored)->fields.serial);
      ctx.log->warn("discovery", "offer from {} ({}) rejected: {}", o.fields.donor, from, problem);
      reject(st, o, problem);
      return;
    }
  }
  // Checked after the signature, so that forged datagrams cannot use up a source's share.
  const auto& limits = ctx.config.limits;
  auto& from_source = st.per_source[source_of(from)];
  if (st.collected.offers.size() >= limits.offers_per_request
      || from_source >= limits.offers_per_source) {
    ++st.left_out;
    return;
  }
  auto m = offered_manifest(o);
  if (!m) {
    reject(st, o, describe(m.error()));
    return;
  }
  ++from_source;
  auto role = believed_role(ctx, o);
  if (role != o.fields.role)
    ctx.log->warn("discovery",
                  "offer from {} ({}) claims the console role, but its key is not "
                  "among [trust] console_keys: taken as a peer's",
                  o.fields.donor, from);
  auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now()
                                                                   - st.sent_at);
  ctx.log->info("discovery", "offer from {} ({}) over {}: {} svn {} in {} us", o.fields.donor,
                to_string(role), ctx.link->address_properties(from).kind, m->fields.version,
                m->fields.svn, rtt.count());
  candidate c{o, from, std::move(*m), static_cast<uint64_t>(rtt.count()), role,
              ctx.link->address_properties(from).nominal_rate_bps};
  st.collected.offers.push_back(std::move(c));
}

/// A donor holds a newer revocation list than the one our request named: it is kept if it
/// checks out (docs/manifest.md, "Revocation lists"), before the offers are negotiated.
void on_revocations(self_ptr self, const std::string& from, const signed_revocations& list) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  if (st.notices >= max_notices)
    return;
  ++st.notices;
  auto stored = ctx.store->revocations();
  if (!stored) {
    ctx.log->error("discovery", "cannot read the stored revocation list: {}",
                   describe(stored.error()));
    return;
  }
  if (auto err = check_newer_revocations(*stored, list, ctx.revocation_keys)) {
    if (!has_code(err, errc::stale))
      ctx.log->warn("discovery", "revocation list from {} refused: {}", from, describe(err));
    return;
  }
  if (auto err = ctx.store->set_revocations(list)) {
    ctx.log->error("discovery", "cannot store revocation list {}: {}", list.fields.serial,
                   describe(err));
    return;
  }
  ctx.log->warn("discovery",
                "revocation list {} from {} installed: {} key(s) and {} image(s) "
                "revoked",
                list.fields.serial, from, list.fields.keys.size(), list.fields.roots.size());
}

} // namespace

std::string offer_problem(const offer& o, const image_request& request) {
  if (o.fields.request_id != request.request_id || o.fields.challenge != request.challenge)
    return "does not answer the current request (stale or replayed)";
  if (!verify_offer(o))
    return "node signature does not verify";
  return {};
}

caf::behavior discovery(caf::stateful_actor<discovery_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  return {
    [=](start_atom) {},
    [=](image_request& request) {
      auto& st = self->state;
      // Donors offer only images of the component asked for: this node's flash's.
      request.component = st.ctx->config.flash.component;
      st.open = request;
      st.sent_at = std::chrono::steady_clock::now();
      st.collected = offers_collected{request, {}, {}, {}};
      st.per_source.clear();
      st.left_out = 0;
      st.notices = 0;
      st.ctx->link->broadcast(encode(request));
      auto window =
        node_discovery_window(std::chrono::milliseconds(st.ctx->config.recovery.discovery_window_ms),
                              st.ctx->link->properties());
      st.ctx->log->info("discovery",
                        "image request {} for {}:{} {} (svn >= {}{}) sent; collecting "
                        "offers for {} ms",
                        request.request_id, request.platform.vendor, request.platform.board,
                        request.component, request.min_svn,
                        request.exclude_roots.empty()
                          ? std::string{}
                          : fmt::format(", excluding {} image(s) that failed to boot here",
                                        request.exclude_roots.size()),
                        window.count());
      self->delayed_send(self, window, timeout_atom::value, request.request_id);
    },
    [=](datagram_message& dm) {
      auto& st = self->state;
      if (auto* r = std::get_if<refusal>(&dm.msg)) {
        st.ctx->log->warn("discovery", "{} refused our request: {}", dm.from, r->reason);
        return;
      }
      if (auto* o = std::get_if<offer>(&dm.msg); o && st.open)
        on_offer(self, dm.from, *o);
      else if (auto* n = std::get_if<revocation_notice>(&dm.msg); n && st.open)
        on_revocations(self, dm.from, n->list);
    },
    [=](timeout_atom, uint64_t request_id) {
      auto& st = self->state;
      if (!st.open || st.open->request_id != request_id)
        return;
      st.open.reset();
      if (st.left_out > 0)
        st.ctx->log->warn("discovery",
                          "{} offer(s) to request {} left out: over the bounds of "
                          "{} offers per request and {} per source",
                          st.left_out, request_id, st.ctx->config.limits.offers_per_request,
                          st.ctx->config.limits.offers_per_source);
      if (auto coord = find_role(self->system(), roles::coordinator, *self->state.ctx))
        self->send(coord, std::move(st.collected));
      st.collected = {};
      st.per_source.clear();
    },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
