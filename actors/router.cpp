#include "actors/router.hpp"

#include <chrono>
#include <map>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "common/error.hpp"

namespace fwrescue {

void transport_bridge::on_datagram(const std::string& from, std::vector<uint8_t> bytes) {
  caf::anon_send(router_, datagram_event{from, std::move(bytes)});
}

void transport_bridge::on_session_opened(session_id id, const std::string& peer, bool inbound) {
  caf::anon_send(router_, session_opened_event{id, peer, inbound});
}

void transport_bridge::on_frame(session_id id, std::vector<uint8_t> bytes) {
  caf::anon_send(router_, frame_event{id, std::move(bytes)});
}

void transport_bridge::on_session_closed(session_id id, const std::string& reason) {
  caf::anon_send(router_, session_closed_event{id, reason});
}

namespace {

/// A session's owner, and what arrived before an outbound session was claimed.
struct session_route {
  caf::actor owner;
  std::vector<caf::message> pending;
};

struct router_state {
  std::map<session_id, session_route> sessions;
  /// When each sender last got a refusal. Two nodes of different versions would otherwise
  /// refuse each other's refusals forever; one a minute per sender is enough to be heard.
  std::map<std::string, std::chrono::steady_clock::time_point> refused;
};

constexpr auto refusal_interval = std::chrono::seconds(60);

} // namespace

caf::behavior router(caf::event_based_actor* self, context_ptr ctx) {
  auto state = std::make_shared<router_state>();
  // Delivers to the session's owner, or keeps the event until an owner claims the session.
  auto deliver = [self, state](session_id id, caf::message msg) {
    auto& route = state->sessions[id];
    if (route.owner)
      self->send(route.owner, std::move(msg));
    else
      route.pending.push_back(std::move(msg));
  };
  return {
    [=](datagram_event& ev) {
      auto decoded = decode(ev.bytes);
      if (!decoded) {
        // Another version's refusal is never answered: two nodes would refuse each other.
        if (has_code(decoded.error(), errc::unsupported_version) && !is_refusal(ev.bytes)) {
          auto now = self->clock().now();
          auto& last = state->refused[ev.from];
          if (last.time_since_epoch().count() != 0 && now - last < refusal_interval)
            return;
          last = now;
          ctx->log->warn("router", "datagram from {}: {}", ev.from, describe(decoded.error()));
          ctx->link->send_datagram(ev.from,
                                   encode(refusal{protocol_version, describe(decoded.error())}));
        } else {
          ctx->log->debug("router", "datagram from {} dropped: {}", ev.from,
                          describe(decoded.error()));
        }
        return;
      }
      auto target = std::holds_alternative<image_request>(*decoded) ? roles::donor
                                                                     : roles::discovery;
      if (auto dest = find_role(self->system(), target))
        self->send(dest, datagram_message{ev.from, std::move(*decoded)});
    },
    [=](session_opened_event& ev) {
      if (ev.inbound)
        state->sessions[ev.id].owner = find_role(self->system(), roles::donor);
      deliver(ev.id, caf::make_message(std::move(ev)));
    },
    [=](frame_event& ev) {
      auto decoded = decode(ev.bytes);
      if (!decoded) {
        ctx->log->warn("router", "session {}: {}; closing it", ev.id, describe(decoded.error()));
        if (has_code(decoded.error(), errc::unsupported_version) && !is_refusal(ev.bytes))
          ctx->link->send_frame(ev.id,
                                encode(refusal{protocol_version, describe(decoded.error())}));
        ctx->link->close_session(ev.id);
        return;
      }
      deliver(ev.id, caf::make_message(session_message{ev.id, std::move(*decoded)}));
    },
    [=](session_closed_event& ev) {
      auto id = ev.id;
      deliver(id, caf::make_message(std::move(ev)));
      auto i = state->sessions.find(id);
      if (i != state->sessions.end() && i->second.owner)
        state->sessions.erase(i);
    },
    [=](claim_session& claim) {
      auto& route = state->sessions[claim.id];
      route.owner = caf::actor_cast<caf::actor>(self->current_sender());
      for (auto& msg : route.pending)
        self->send(route.owner, std::move(msg));
      route.pending.clear();
    },
  };
}

} // namespace fwrescue
