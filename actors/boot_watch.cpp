#include "actors/boot_watch.hpp"

#include "common/error.hpp"

namespace fwrescue {

namespace {

using self_ptr = caf::stateful_actor<boot_watch_state>*;

/// How often the console log is read while a boot is watched.
constexpr auto poll_interval = std::chrono::milliseconds(250);

void tell_coordinator(self_ptr self, boot_result r) {
  if (auto coord = find_role(self->system(), roles::coordinator, *self->state.ctx))
    self->send(coord, std::move(r));
}

void start_watch(self_ptr self, const host_powered_on& on) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  ++st.generation;
  st.watch.reset();
  if (!watching_boots(ctx))
    return;
  st.watch = std::make_unique<boot_console_watch>(console_path(ctx), on.console_offset,
                                                  ctx.config.boot.success_patterns);
  st.cause = on.cause;
  st.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(ctx.config.boot.timeout_s);
  ctx.log->info("boot", "watching the host's boot ({}) for up to {} s", on.cause,
                ctx.config.boot.timeout_s);
  self->delayed_send(self, poll_interval, poll_atom::value, st.generation);
}

void poll(self_ptr self, uint64_t generation) {
  auto& st = self->state;
  if (generation != st.generation || !st.watch)
    return;
  bool matched = st.watch->poll();
  if (!matched && std::chrono::steady_clock::now() < st.deadline) {
    self->delayed_send(self, poll_interval, poll_atom::value, st.generation);
    return;
  }
  auto v = st.watch->verdict();
  st.watch.reset();
  boot_result r;
  r.booted = v.outcome == boot_outcome::booted;
  r.outcome = to_string(v.outcome);
  const auto& ctx = *st.ctx;
  if (r.booted) {
    r.detail = "the console showed '" + v.matched + "'";
    ctx.log->info("boot", "the host booted ({}): {}", st.cause, r.detail);
  } else {
    r.detail = v.outcome == boot_outcome::no_output
                 ? fmt::format("no console output within {} s", ctx.config.boot.timeout_s)
                 : fmt::format("{} bytes of console output but no success pattern within {} s; "
                               "last line: '{}'",
                               v.bytes_seen, ctx.config.boot.timeout_s, v.last_line);
    ctx.log->warn("boot", "replacement needed: boot failure ({}): {}", st.cause, r.detail);
  }
  tell_coordinator(self, std::move(r));
}

/// Powers the host on (or off) as host_power.at_start says, and watches a boot it starts.
void apply_at_start(self_ptr self) {
  const auto& ctx = *self->state.ctx;
  const auto& want = ctx.config.host_power.at_start;
  if (want == "keep")
    return;
  // An interrupted flash owns the host until the recovery restores it.
  if (auto journal = ctx.store->journal(); journal && *journal) {
    ctx.log->info("boot", "host_power.at_start = \"{}\" not applied: a recovery is under way",
                  want);
    return;
  }
  auto now = ctx.power->state();
  if (!now) {
    ctx.log->error("boot", "cannot read the host's power state: {}", describe(now.error()));
    return;
  }
  if (want == "off") {
    if (*now != power_state::off)
      if (auto err = ctx.power->power_off())
        ctx.log->error("boot", "cannot power the host off at start: {}", describe(err));
    return;
  }
  if (*now == power_state::on)
    return; // Already running: its boot was not ours to watch.
  auto offset = console_offset(ctx);
  auto err = *now == power_state::reset_held ? ctx.power->release_reset() : ctx.power->power_on();
  if (err) {
    ctx.log->error("boot", "cannot power the host on at start: {}", describe(err));
    return;
  }
  start_watch(self, host_powered_on{"powered on at start", offset});
}

void cycle(self_ptr self, const power_cycle& pc) {
  const auto& ctx = *self->state.ctx;
  ctx.log->warn("boot", "power-cycling the host: {}", pc.reason);
  ++self->state.generation; // the boot being watched, if any, ends here
  self->state.watch.reset();
  auto now = ctx.power->state();
  if (!now) {
    ctx.log->error("boot", "cannot read the host's power state: {}", describe(now.error()));
    return;
  }
  if (*now != power_state::off)
    if (auto err = ctx.power->power_off()) {
      ctx.log->error("boot", "power cycle: cannot power the host off: {}", describe(err));
      return;
    }
  auto offset = console_offset(ctx);
  if (auto err = ctx.power->power_on()) {
    ctx.log->error("boot", "power cycle: cannot power the host on: {}", describe(err));
    return;
  }
  start_watch(self, host_powered_on{"power cycle", offset});
}

} // namespace

std::string console_path(const node_context& ctx) {
  if (!ctx.config.boot.console.empty())
    return ctx.config.boot.console;
  return ctx.power ? ctx.power->console_log() : std::string{};
}

bool watching_boots(const node_context& ctx) {
  return ctx.config.boot.watch && !console_path(ctx).empty();
}

uint64_t console_offset(const node_context& ctx) {
  auto path = console_path(ctx);
  return path.empty() ? 0 : console_size(path);
}

caf::behavior boot_watch(caf::stateful_actor<boot_watch_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  return {
    [=](start_atom) { apply_at_start(self); },
    [=](host_powered_on& on) { start_watch(self, on); },
    [=](power_cycle& pc) { cycle(self, pc); },
    [=](poll_atom, uint64_t generation) { poll(self, generation); },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
