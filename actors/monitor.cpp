#include "actors/monitor.hpp"

#include <chrono>

#include <fmt/format.h>

#include "actors/flash_check.hpp"
#include "common/error.hpp"
#include "image/hash.hpp"

namespace fwrescue {

namespace {

/// Says which bytes of the chip the check did not cover: those outside the image region, and
/// those of the region past the image's end. Empty when the image spans the whole chip.
std::string uncovered(const node_context& ctx, uint64_t image_size) {
  auto region = ctx.chip->geometry().size;
  auto chip = ctx.layout.chip_size == 0 ? region : ctx.layout.chip_size;
  auto from = ctx.layout.region_offset;
  if (from == 0 && image_size == chip)
    return {};
  return fmt::format("; checked chip bytes {:#x}..{:#x} of {:#x}, the image; the other {} bytes "
                     "are outside it and not checked",
                     from, from + image_size, chip, chip - image_size);
}

} // namespace

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
  if (m.fields.component != ctx.config.flash.component) {
    // The manifest describes another firmware target: judged by it, this flash would look bad
    // throughout and be rewritten unasked. Whether the manifest or [flash] is wrong is the
    // operator's call (`fwrescue recover` pulls an image of this node's component).
    report.checked = true;
    report.root = m.fields.merkle_root;
    report.block_count = m.fields.block_count();
    report.fault = flash_fault::unfixable;
    report.detail = fmt::format("the installed manifest is for component {}, this flash holds {} "
                                "([flash] component): not checked; correct [flash] component or "
                                "the installed manifest",
                                m.fields.component, ctx.config.flash.component);
    return report;
  }
  auto region = ctx.chip->geometry().size;
  if (m.fields.image_size > region) {
    // No image of this size can ever be written here; a recovery would fail on every pass.
    report.checked = true;
    report.root = m.fields.merkle_root;
    report.block_count = m.fields.block_count();
    report.fault = flash_fault::unfixable;
    report.detail = fmt::format("the installed image of {} bytes does not fit the {}-byte flash "
                                "region: no donor can fix this; correct [flash] (region_offset, "
                                "region_size, the chip) or the installed manifest",
                                m.fields.image_size, region);
    return report;
  }
  report = flash_report_for(m, check_flash(*ctx.chip, m, hash_threads()));
  if (report.fault == flash_fault::none)
    report.detail += uncovered(ctx, m.fields.image_size);
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
    if (auto donor = find_role(self->system(), roles::donor, *self->state.ctx))
      self->send(donor, own_image_state{report.ok(), self->state.ctx});
    if (auto coord = find_role(self->system(), roles::coordinator, *self->state.ctx))
      self->send(coord, report);
  };
  if (ctx->config.monitor.interval_s > 0)
    self->delayed_send(self, std::chrono::seconds(ctx->config.monitor.interval_s),
                       tick_atom::value);
  return {
    // The first check reports to the coordinator: it waits until the supervisor says every role
    // is registered.
    [=](start_atom) {
      // A monitor restarted while the flasher writes must not read a half-written chip: the
      // journal says whether a flash is under way (the coordinator's pause was sent to the
      // monitor that died).
      auto journal = self->state.ctx->store->journal();
      self->state.paused =
        journal && *journal && (*journal)->at == recovery_journal::phase::flashing;
      if (self->state.ctx->config.monitor.check_at_start && !self->state.paused)
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
