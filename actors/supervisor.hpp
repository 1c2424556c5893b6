#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "common/log.hpp"

namespace fwrescue {

/// How to (re)start one child: its role name in the registry and a function that spawns it.
struct child_spec {
  caf::atom_value role;
  std::function<caf::actor(caf::actor_system&)> spawn;
};

struct supervisor_state {
  std::vector<child_spec> specs;
  std::map<caf::actor_addr, size_t> children;
  std::deque<std::chrono::steady_clock::time_point> restarts;
  uint32_t max_restarts = 5;
  std::chrono::seconds window{60};
  bool safe_hold = false;
  std::shared_ptr<logger> log;
  static inline const char* name = "supervisor";
};

/// The node supervisor: spawns each child, registers it under its role, and restarts a child
/// that fails (one for one; the replacement is found by role, so no one holds a stale handle).
/// More than `max_restarts` restarts within `window` is a restart storm: the supervisor stops
/// restarting, logs a loud error and sends every child `safehold`, so no flash write happens
/// until an operator restarts the daemon.
caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self, std::vector<child_spec> specs,
                         uint32_t max_restarts, std::chrono::seconds window,
                         std::shared_ptr<logger> log);

} // namespace fwrescue
