#include "actors/router.hpp"

#include <chrono>
#include <map>
#include <optional>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "common/error.hpp"
#include "common/rate_limiter.hpp"

namespace fwrescue {

template <class Event>
void transport_bridge::forward(Event ev) {
  // Between a router's death and its restart nobody hears the event; a session then ends by
  // its deadlines, and a datagram is lost as the network may lose it.
  if (auto router = find_role(sys_, roles::router))
    caf::anon_send(router, std::move(ev));
}

void transport_bridge::on_datagram(const std::string& from, std::vector<uint8_t> bytes) {
  auto link = link_;
  consumption_ticket ticket{nullptr, [link, from](void*) { link->datagram_consumed_from(from); }};
  forward(datagram_event{from, std::move(bytes), std::move(ticket)});
}

void transport_bridge::on_session_opened(session_id id, const std::string& peer, bool inbound) {
  forward(session_opened_event{id, peer, inbound});
}

void transport_bridge::on_frame(session_id id, std::vector<uint8_t> bytes) {
  auto link = link_;
  auto size = bytes.size();
  consumption_ticket ticket{nullptr, [link, id, size](void*) { link->frame_consumed(id, size); }};
  forward(frame_event{id, std::move(bytes), std::move(ticket)});
}

void transport_bridge::on_session_closed(session_id id, const std::string& reason) {
  forward(session_closed_event{id, reason});
}

void transport_bridge::on_session_drained(session_id id) {
  forward(session_drained_event{id});
}

namespace {

/// Events kept for an outbound session until its owner claims it: the claim follows
/// open_session() at once, so a few cover the race; more means nobody will claim it.
constexpr size_t max_pending = 16;

/// A session's owner, and what arrived before an outbound session was claimed.
struct session_route {
  caf::actor owner;
  std::vector<caf::message> pending;
  /// The session ended before it was claimed: the claim gets the pending events, and the route
  /// goes.
  bool closed = false;
};

struct router_state {
  explicit router_state(context_ptr c) : ctx(std::move(c)) {
    limit_answers();
  }
  /// (Re)builds the answer limiter from the limits in force.
  void limit_answers() {
    const auto& l = ctx->config.limits;
    answers.emplace(l.answers_per_source_per_s, l.answers_per_s, l.sources_tracked);
  }
  context_ptr ctx;
  std::map<session_id, session_route> sessions;
  /// Image requests answered (each costs a signed offer) and refusals sent, per source address.
  std::optional<rate_limiter> answers;
};

/// The address part of "a.b.c.d:port": a flood from many ports of one host is one source.
std::string source_of(const std::string& from) {
  auto colon = from.rfind(':');
  return colon == std::string::npos ? from : from.substr(0, colon);
}

} // namespace

caf::behavior router(caf::event_based_actor* self, context_ptr ctx) {
  auto state = std::make_shared<router_state>(ctx);
  // Delivers to the session's owner, or keeps the event until an owner claims the session.
  auto deliver = [self, state](session_id id, caf::message msg) {
    auto& route = state->sessions[id];
    if (route.owner) {
      self->send(route.owner, std::move(msg));
      return;
    }
    if (route.pending.size() >= max_pending) {
      state->ctx->log->warn("router", "session {}: no actor claims it; closing it", id);
      state->sessions.erase(id);
      state->ctx->link->close_session(id);
      return;
    }
    route.pending.push_back(std::move(msg));
  };
  auto may_answer = [self, state](const std::string& from) {
    return state->answers->allow(source_of(from), self->clock().now());
  };
  return {
    [=](start_atom) {},
    [=](datagram_event& ev) {
      auto decoded = decode(ev.bytes);
      if (!decoded) {
        // Another version's refusal is never answered: two nodes would refuse each other.
        if (has_code(decoded.error(), errc::unsupported_version) && !is_refusal(ev.bytes)
            && may_answer(ev.from)) {
          state->ctx->log->warn("router", "datagram from {}: {}", ev.from,
                                describe(decoded.error()));
          state->ctx->link->send_datagram(
            ev.from, encode(refusal{protocol_version, describe(decoded.error())}));
        } else {
          state->ctx->log->debug("router", "datagram from {} dropped: {}", ev.from,
                                 describe(decoded.error()));
        }
        return;
      }
      // Image requests and fleet queries each cost a signed answer: both are rate limited.
      bool request = std::holds_alternative<image_request>(*decoded);
      bool is_fleet_query = std::holds_alternative<fleet_query>(*decoded);
      if ((request || is_fleet_query) && !may_answer(ev.from)) {
        state->ctx->log->debug("router", "{} from {} not answered: over the rate limit",
                               kind_name(*decoded), ev.from);
        return;
      }
      if (is_fleet_query || std::holds_alternative<fleet_answer>(*decoded)) {
        if (auto dest = find_role(self->system(), roles::fleet))
          self->send(dest, datagram_message{ev.from, std::move(*decoded)});
        return;
      }
      if (request) {
        if (auto dest = find_role(self->system(), roles::donor))
          self->send(dest, datagram_message{ev.from, std::move(*decoded)});
        return;
      }
      // Offers and refusals go to every target's discovery: each keeps only those answering
      // its own request.
      datagram_message dm{ev.from, std::move(*decoded)};
      for (uint32_t i = 0; i < state->ctx->target_names.size(); ++i)
        if (auto dest = find_role(self->system(), role_of(roles::discovery, i)))
          self->send(dest, dm);
    },
    [=](session_opened_event& ev) {
      if (ev.inbound)
        state->sessions[ev.id].owner = find_role(self->system(), roles::donor);
      deliver(ev.id, caf::make_message(std::move(ev)));
    },
    [=](frame_event& ev) {
      auto decoded = decode(ev.bytes);
      if (!decoded) {
        state->ctx->log->warn("router", "session {}: {}; closing it", ev.id,
                              describe(decoded.error()));
        if (has_code(decoded.error(), errc::unsupported_version) && !is_refusal(ev.bytes))
          state->ctx->link->send_frame(
            ev.id, encode(refusal{protocol_version, describe(decoded.error())}));
        state->ctx->link->close_session(ev.id);
        return;
      }
      deliver(ev.id, caf::make_message(session_message{ev.id, std::move(*decoded)}));
    },
    [=](session_drained_event& ev) {
      auto i = state->sessions.find(ev.id);
      if (i != state->sessions.end() && i->second.owner)
        self->send(i->second.owner, ev);
    },
    [=](session_closed_event& ev) {
      auto id = ev.id;
      deliver(id, caf::make_message(std::move(ev)));
      auto i = state->sessions.find(id);
      if (i == state->sessions.end())
        return;
      if (i->second.owner)
        state->sessions.erase(i);
      else
        i->second.closed = true;
    },
    [=](context_update& u) {
      state->ctx = std::move(u.ctx);
      state->limit_answers();
    },
    [=](claim_session& claim) {
      auto& route = state->sessions[claim.id];
      route.owner = caf::actor_cast<caf::actor>(self->current_sender());
      for (auto& msg : route.pending)
        self->send(route.owner, std::move(msg));
      route.pending.clear();
      if (route.closed)
        state->sessions.erase(claim.id);
    },
  };
}

} // namespace fwrescue
