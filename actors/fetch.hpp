#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

/// Coordinator -> fetch: take an image from the location named `source`.
struct fetch_job {
  uint64_t job = 0;
  std::string source;
  /// A location of the job's own (recover_from_location) used instead of the context's
  /// location named `source`.
  std::shared_ptr<image_location> location = {};
  /// As transfer_job::flash_check.
  flash_report flash_check = {};
  /// Set by the coordinator when it gives the job up; the fetch stops at its next piece of
  /// data. A flag rather than a message: the fetch blocks on I/O and reads its mailbox only
  /// between jobs.
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
};

/// Fetch -> coordinator: the image is assembled in `staging_path` (a file of the fetch's own,
/// so that a job given up cannot write into the staging file of the next one); the coordinator
/// moves it into place when the job is still current.
struct fetch_done {
  transfer_done done;
  std::string staging_path;
  std::string source;
};

struct fetch_failed {
  uint64_t job = 0;
  std::string source;
  std::string reason;
};

/// Coordinator -> fetch, after a recovery succeeded with [local] keep_golden: copy the image now
/// on the flash into the local directory as its golden copy.
struct keep_golden {
  signed_manifest manifest;
};

struct fetch_state {
  context_ptr ctx;
  static inline const char* name = "fetch";
};

/// Takes images from the locations an operator prepared (context's `locations`: a local
/// directory, removable media, a web server) with the same checks as a transfer from a peer
/// (actors/location_pull.hpp), and keeps golden copies. Runs detached: every job blocks on file
/// or network I/O.
caf::behavior fetch(caf::stateful_actor<fetch_state>* self, context_ptr ctx);

} // namespace fwrescue

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::fetch_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::fetch_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::fetch_failed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::keep_golden)
