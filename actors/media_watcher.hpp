#pragma once

#include <memory>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "sources/media_watch.hpp"

namespace fwrescue {

struct media_watcher_state {
  context_ptr ctx;
  std::unique_ptr<media_watch> watch;
  static inline const char* name = "media_watcher";
};

/// Tells the coordinator when removable media may have come or gone under [removable] watch,
/// looking a few times a second (without blocking: inotify and the mount table are read
/// non-blocking). Idle when "removable" is not among recovery.sources.
caf::behavior media_watcher(caf::stateful_actor<media_watcher_state>* self, context_ptr ctx);

} // namespace fwrescue
