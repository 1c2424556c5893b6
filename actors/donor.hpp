#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "actors/router.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

/// An image this node can serve: a catalog file, or its own flash.
struct served_image {
  std::string label;
  signed_manifest manifest;
  /// Empty for the node's own flash.
  std::string path;
};

struct donor_state {
  struct sent_offer {
    nonce challenge{};
    std::chrono::steady_clock::time_point expires;
  };
  struct upload {
    std::string peer;
    /// Shared, so an upload in progress keeps its image even if the node stops offering it.
    std::shared_ptr<const served_image> image;
    bool confirmed = false;
  };

  context_ptr ctx;
  std::vector<std::shared_ptr<const served_image>> catalog;
  /// The node's own image, when the monitor says the flash matches its manifest.
  std::shared_ptr<const served_image> own;
  std::map<uint64_t, sent_offer> offers;
  std::map<session_id, upload> uploads;
  /// With an upload rate cap: when the link is free for the next block.
  std::chrono::steady_clock::time_point next_free{};

  uint32_t active_uploads() const;
  static inline const char* name = "donor";
};

/// Answers image requests with signed offers for every compatible image it holds, admits up to
/// donor.max_uploads sessions (Busy beyond that), sends the accepted image's block digests, then
/// serves the blocks it is asked for.
caf::behavior donor(caf::stateful_actor<donor_state>* self, context_ptr ctx);

/// Loads and checks the catalog images of the configuration; images that do not verify are
/// left out with an error in the log.
std::vector<std::shared_ptr<const served_image>> load_catalog(const node_context& ctx);

} // namespace fwrescue
