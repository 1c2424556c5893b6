#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "hal/boot_console.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

using poll_atom = caf::atom_constant<caf::atom("bootpoll")>;

/// The host's serial console log the boot watcher reads: [boot] console, else the one the host
/// power backend captures; empty when there is none.
std::string console_path(const node_context& ctx);

/// Whether boots are watched: [boot] watch and a console to read.
bool watching_boots(const node_context& ctx);

/// Where the next boot's console output will start: the log's size now (0 without a log).
/// Taken before the power-on it describes, so no early line of the boot is missed.
uint64_t console_offset(const node_context& ctx);

struct boot_watch_state {
  context_ptr ctx;
  /// The boot being watched, if any; a new power-on replaces it.
  std::unique_ptr<boot_console_watch> watch;
  std::string cause;
  std::chrono::steady_clock::time_point deadline;
  /// Bumped per watch, so a poll timer of an earlier one is ignored.
  uint64_t generation = 0;
  static inline const char* name = "boot_watch";
};

/// Watches every boot the daemon starts: after host_powered_on it reads the console's new
/// output for a success pattern until [boot] timeout_s, and tells the coordinator the verdict
/// (boot_result). At start it applies host_power.at_start (unless a flash was interrupted: the
/// recovery owns the host then). It power-cycles the host when the coordinator asks
/// (power_cycle). Power operations may block for seconds: it runs on its own thread.
caf::behavior boot_watch(caf::stateful_actor<boot_watch_state>* self, context_ptr ctx);

} // namespace fwrescue
