#include "actors/supervisor.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/system_messages.hpp>

#include "common/error.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

namespace {

using self_ptr = caf::stateful_actor<supervisor_state>*;

/// Spawns child `i`, watches it and registers it under its role; returns it.
caf::actor start_child(self_ptr self, size_t i) {
  auto& spec = self->state.specs[i];
  auto child = spec.spawn(self->system());
  self->monitor(child);
  // CAF's registry never replaces a name: without the erase a restarted child would stay
  // unregistered (and, held by nobody, die at once as unreachable).
  self->system().registry().erase(spec.role);
  self->system().registry().put(spec.role, child);
  self->state.children[child.address()] = i;
  return child;
}

/// Records a restart and says whether it is still within the allowed rate.
bool allow_restart(supervisor_state& st, std::chrono::steady_clock::time_point now) {
  st.restarts.push_back(now);
  while (!st.restarts.empty() && now - st.restarts.front() > st.window)
    st.restarts.pop_front();
  return st.restarts.size() <= st.max_restarts;
}

void enter_safe_hold(self_ptr self) {
  auto& st = self->state;
  st.safe_hold = true;
  st.log->error("supervisor",
                "SAFE HOLD: more than {} restarts within {} s; flash writes are "
                "disabled until the daemon is restarted",
                st.max_restarts, st.window.count());
  for (const auto& spec : st.specs)
    if (auto child = self->system().registry().get<caf::actor>(spec.role))
      self->send(child, hold_atom::value);
}

} // namespace

caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self, std::vector<child_spec> specs,
                         uint32_t max_restarts, std::chrono::seconds window,
                         std::shared_ptr<logger> log) {
  auto& st = self->state;
  st.specs = std::move(specs);
  st.max_restarts = max_restarts;
  st.window = window;
  st.log = std::move(log);
  std::vector<caf::actor> started;
  for (size_t i = 0; i < st.specs.size(); ++i)
    started.push_back(start_child(self, i));
  // Only now can every child find every other by role.
  for (const auto& child : started)
    self->send(child, start_atom::value);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.children.find(dm.source);
    if (i == st.children.end())
      return;
    auto index = i->second;
    st.children.erase(i);
    auto role = caf::to_string(st.specs[index].role);
    if (!dm.reason || dm.reason == caf::exit_reason::user_shutdown) {
      st.log->info("supervisor", "{} stopped", role);
      return;
    }
    st.log->error("supervisor", "{} failed: {}", role, describe(dm.reason));
    if (st.safe_hold)
      return;
    if (!allow_restart(st, self->clock().now()))
      return enter_safe_hold(self);
    st.log->warn("supervisor", "restarting {} ({} restart(s) in the last {} s)", role,
                 st.restarts.size(), st.window.count());
    self->send(start_child(self, index), start_atom::value);
  });
  return {
    // Also the service watchdog's ping (tools/fwrescued/service_notify): the answer is the
    // supervisor's sign of life, and in safe hold it asks no one else.
    [=](hold_atom) -> bool { return self->state.safe_hold; },
  };
}

} // namespace fwrescue
