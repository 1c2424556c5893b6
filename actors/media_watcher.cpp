#include "actors/media_watcher.hpp"

#include <algorithm>

#include "actors/coordinator.hpp"
#include "common/error.hpp"

namespace fwrescue {

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;

/// How often the watch is looked at: a medium plugged in is noticed within this.
constexpr auto tick = std::chrono::milliseconds(250);

} // namespace

caf::behavior media_watcher(caf::stateful_actor<media_watcher_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  const auto& sources = ctx->config.recovery.sources;
  if (std::find(sources.begin(), sources.end(), "removable") != sources.end()) {
    if (auto w = media_watch::open(ctx->config.removable.watch)) {
      self->state.watch = std::move(*w);
      self->delayed_send(self, tick, tick_atom::value);
    } else {
      ctx->log->warn("media", "removable media are not watched ({}); they are looked for at each "
                     "attempt only", describe(w.error()));
    }
  }
  return {
    [=](start_atom) {},
    [=](tick_atom) {
      if (self->state.watch->changed())
        for (uint32_t i = 0; i < self->state.ctx->target_names.size(); ++i)
          if (auto coord = find_role(self->system(), role_of(roles::coordinator, i)))
            self->send(coord, media_changed_atom::value);
      self->delayed_send(self, tick, tick_atom::value);
    },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
