#pragma once

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

struct monitor_state {
  context_ptr ctx;
  /// Paused while the flasher rewrites the flash: a check then would see a half-written image.
  bool paused = false;
  static inline const char* name = "monitor";
};

/// Checks the flash against the installed manifest at start (if configured), every
/// monitor.interval_s, and on `check`. Sends each flash_report to the coordinator and tells the
/// donor whether the node's own image may be served.
caf::behavior monitor(caf::stateful_actor<monitor_state>* self, context_ptr ctx);

/// One check, as the monitor runs it (exposed for tests).
flash_report check_installed(const node_context& ctx);

} // namespace fwrescue
