#include "actors/discovery.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

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
      st.open = request;
      st.sent_at = std::chrono::steady_clock::now();
      st.collected = offers_collected{request, {}, {}, {}};
      st.ctx->link->broadcast(encode(request));
      st.ctx->log->info("discovery", "image request {} for {}:{} (svn >= {}) sent; collecting "
                                     "offers for {} ms",
                        request.request_id, request.platform.vendor, request.platform.board,
                        request.min_svn, st.ctx->config.recovery.discovery_window_ms);
      self->delayed_send(self,
                         std::chrono::milliseconds(st.ctx->config.recovery.discovery_window_ms),
                         timeout_atom::value, request.request_id);
    },
    [=](datagram_message& dm) {
      auto& st = self->state;
      if (auto* r = std::get_if<refusal>(&dm.msg)) {
        st.ctx->log->warn("discovery", "{} refused our request: {}", dm.from, r->reason);
        return;
      }
      auto* o = std::get_if<offer>(&dm.msg);
      if (!o || !st.open)
        return;
      if (auto problem = offer_problem(*o, *st.open); !problem.empty()) {
        st.ctx->log->warn("discovery", "offer from {} ({}) rejected: {}", o->fields.donor,
                          dm.from, problem);
        if (o->fields.request_id == st.open->request_id)
          st.collected.rejected.push_back({o->fields.donor, to_string(o->fields.role), "", 0,
                                           false, problem, 0});
        return;
      }
      auto m = offered_manifest(*o);
      if (!m) {
        st.collected.rejected.push_back(
          {o->fields.donor, to_string(o->fields.role), "", 0, false, describe(m.error()), 0});
        return;
      }
      auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - st.sent_at);
      st.ctx->log->info("discovery", "offer from {} ({}): {} svn {} in {} us",
                        o->fields.donor, to_string(o->fields.role), m->fields.version,
                        m->fields.svn, rtt.count());
      st.collected.offers.push_back(
        {*o, dm.from, std::move(*m), static_cast<uint64_t>(rtt.count())});
    },
    [=](timeout_atom, uint64_t request_id) {
      auto& st = self->state;
      if (!st.open || st.open->request_id != request_id)
        return;
      st.open.reset();
      if (auto coord = find_role(self->system(), roles::coordinator))
        self->send(coord, std::move(st.collected));
      st.collected = {};
    },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
