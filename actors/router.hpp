#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

/// A decoded datagram, as the router hands it to discovery or the donor.
struct datagram_message {
  std::string from;
  wire_message msg;
};

/// A decoded session frame, as the router hands it to the session's owner.
struct session_message {
  session_id id = 0;
  wire_message msg;
};

/// Forwards a transport's events, which arrive on the transport's thread, to the router actor.
/// The router is looked up by role for every event, so one restarted by the supervisor is found.
/// Every datagram and frame carries a ticket that tells the transport when it has been handled.
class transport_bridge : public transport_events {
public:
  transport_bridge(caf::actor_system& sys, std::shared_ptr<transport> link)
    : sys_(sys), link_(std::move(link)) {
  }
  void on_datagram(const std::string& from, std::vector<uint8_t> bytes) override;
  void on_session_opened(session_id id, const std::string& peer, bool inbound) override;
  void on_frame(session_id id, std::vector<uint8_t> bytes) override;
  void on_session_closed(session_id id, const std::string& reason) override;
  void on_session_drained(session_id id) override;

private:
  template <class Event>
  void forward(Event ev);

  caf::actor_system& sys_;
  std::shared_ptr<transport> link_;
};

/// Decodes everything that arrives from the network and hands it to the actor that handles it:
/// image requests to the donor, offers and refusals to discovery, inbound sessions to the
/// donor, outbound sessions to whoever claimed them. Malformed input stops here. Answers to
/// unauthenticated datagrams (image requests, which cost a signed offer, and refusals) are
/// rate limited per source address and in all ([limits] answers_per_source_per_s,
/// answers_per_s, sources_tracked).
caf::behavior router(caf::event_based_actor* self, context_ptr ctx);

} // namespace fwrescue

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::datagram_message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::session_message)
