#include "actors/monitor.hpp"

#include <chrono>

#include <fmt/format.h>

#include "actors/flash_check.hpp"
#include "common/error.hpp"
#include "image/hash.hpp"

namespace fwrescue {

flash_report check_installed(const node_context& ctx) {
  flash_report report;
  auto installed = ctx.store->installed_manifest();
  if (!installed) {
    report.detail = describe(installed.error());
    return report;
  }
  if (!*installed) {
    report.detail = "no installed manifest recorded; nothing to check against";
    return report;
  }
  return flash_report_for(**installed, check_flash(*ctx.chip, **installed, hash_threads()));
}

caf::behavior monitor(caf::stateful_actor<monitor_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  auto run_check = [self]() -> void {
    const auto& ctx = *self->state.ctx;
    auto report = check_installed(ctx);
    if (!report.checked)
      ctx.log->info("monitor", "{}", report.detail);
    else if (report.ok())
      ctx.log->info("monitor", "{}", report.detail);
    else
      ctx.log->warn("monitor", "{}", report.detail);
    if (auto donor = find_role(self->system(), roles::donor))
      self->send(donor, own_image_state{report.ok()});
    if (auto coord = find_role(self->system(), roles::coordinator))
      self->send(coord, report);
  };
  if (ctx->config.monitor.interval_s > 0)
    self->delayed_send(self, std::chrono::seconds(ctx->config.monitor.interval_s),
                       tick_atom::value);
  return {
    // The first check reports to the coordinator: it waits until the supervisor says every role
    // is registered.
    [=](start_atom) {
      if (self->state.ctx->config.monitor.check_at_start)
        run_check();
    },
    [=](check_atom) { run_check(); },
    [=](tick_atom) {
      if (!self->state.paused)
        run_check();
      self->delayed_send(self, std::chrono::seconds(self->state.ctx->config.monitor.interval_s),
                         tick_atom::value);
    },
    [=](pause_atom) { self->state.paused = true; },
    [=](resume_atom) { self->state.paused = false; },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
