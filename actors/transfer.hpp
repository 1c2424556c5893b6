#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "actors/router.hpp"
#include "actors/staging_file.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

/// Coordinator -> transfer: pull the image from these donors, best first.
struct transfer_job {
  image_request request;
  std::vector<candidate> candidates;
  /// The monitor's last check of the flash; its bad blocks are not scanned for reuse when the
  /// target is the image it checked against.
  flash_report flash_check = {};
};

struct transfer_state {
  enum class phase { idle, connecting, confirming, receiving_digests, pulling };

  context_ptr ctx;
  image_request request;
  flash_report flash_check;
  std::vector<candidate> queue;
  size_t next = 0;
  phase at = phase::idle;

  // The donor being pulled from.
  std::optional<candidate> current;
  session_id session = 0;

  // The image being assembled. `have` refers to `staged_root`'s image and survives a change of
  // donor within one job, so blocks verified from one donor are not pulled again from the next;
  // a new job starts afresh.
  signed_manifest target;
  uint64_t digests_received = 0;
  digest staged_root{};
  std::vector<bool> have;
  /// The blocks of `have` that are in the staging file (the others are on the flash).
  std::vector<bool> staged;
  uint64_t have_count = 0;
  std::vector<uint64_t> wanted;
  size_t wanted_pos = 0;
  std::set<uint64_t> outstanding;
  std::unique_ptr<staging_file> staging;
  uint64_t pulled = 0;
  uint64_t reused = 0;

  /// Bumped on every frame from the current donor; the watchdog drops a donor whose count stands
  /// still for recovery.block_timeout_ms.
  uint64_t activity = 0;
  std::vector<std::string> failures;

  static inline const char* name = "transfer";
};

/// Pulls an image from the ranked donors: opens a session, sends a signed accept, receives the
/// block digests and checks they build the signed root, reuses every block the flash or the
/// staging file already holds, then requests the rest in a window of outstanding requests and
/// verifies each block before staging it. A donor that is busy, declines, stalls, disconnects or
/// sends a bad block is dropped and the next one continues with the blocks already verified.
caf::behavior transfer(caf::stateful_actor<transfer_state>* self, context_ptr ctx);

} // namespace fwrescue

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::transfer_job)
