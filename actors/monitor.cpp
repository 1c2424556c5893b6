#include "actors/monitor.hpp"

#include <chrono>

#include <fmt/format.h>

#include "actors/flash_check.hpp"
#include "common/error.hpp"

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
  const auto& m = **installed;
  report.checked = true;
  report.block_count = m.fields.block_count();
  auto blocks = check_flash(*ctx.chip, m);
  if (!blocks) {
    report.bad = {{0, report.block_count}};
    report.detail = describe(blocks.error());
    return report;
  }
  report.bad = blocks->bad;
  if (blocks->ok()) {
    report.detail = fmt::format("flash matches {} {} svn {} ({} blocks)", m.fields.version,
                                m.fields.platform.board, m.fields.svn, report.block_count);
  } else {
    auto first = report.bad.front().first;
    report.detail = fmt::format("{} of {} blocks do not match the installed manifest, first bad "
                                "block {} at {:#x}",
                                blocks->bad_blocks(), report.block_count, first,
                                first * m.fields.block_size);
  }
  return report;
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
  if (ctx->config.monitor.check_at_start)
    self->send(self, check_atom::value);
  if (ctx->config.monitor.interval_s > 0)
    self->delayed_send(self, std::chrono::seconds(ctx->config.monitor.interval_s),
                       tick_atom::value);
  return {
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
