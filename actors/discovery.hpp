#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "actors/router.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

struct discovery_state {
  context_ptr ctx;
  /// The request being answered, when its window is open.
  std::optional<image_request> open;
  std::chrono::steady_clock::time_point sent_at;
  offers_collected collected;
  /// Offers taken from each source address for the open request, and offers left out because
  /// a bound was reached (limits.offers_per_request, offers_per_source).
  std::map<std::string, uint32_t> per_source;
  uint64_t left_out = 0;
  /// Revocation lists looked at for the open request (each costs a signature check).
  uint32_t notices = 0;
  static inline const char* name = "discovery";
};

/// On an image_request from the coordinator: broadcasts it, collects the offers that answer it
/// for recovery.discovery_window_ms, and sends them to the coordinator as offers_collected.
/// Offers whose node signature fails or that do not echo the request's id and nonce are
/// rejected here with the reason. At most limits.offers_per_request offers are taken from one
/// request, and limits.offers_per_source from one source address; a console claim from a key
/// outside [trust] console_keys is taken as a peer's.
caf::behavior discovery(caf::stateful_actor<discovery_state>* self, context_ptr ctx);

/// Judges one offer against the open request: the reason it is rejected, or empty.
std::string offer_problem(const offer& o, const image_request& request);

} // namespace fwrescue
