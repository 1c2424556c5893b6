#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "actors/coordinator_steps.hpp"
#include "common/error.hpp"
#include "common/hex.hpp"
#include "hal/boot_history.hpp"

namespace fwrescue::coordinator_steps {

void boot_reported(self_ptr self, const boot_result& r) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  auto installed = ctx.store->installed_manifest();
  boot_record rec;
  rec.at = std::time(nullptr);
  if (installed && *installed)
    rec.root = (*installed)->fields.merkle_root;
  rec.booted = r.booted;
  rec.outcome = r.outcome;
  rec.detail = r.detail;
  if (auto err = boot_history{ctx.store->dir()}.record(rec))
    ctx.log->error("coordinator", "cannot record the boot: {}", describe(err));
  if (r.booted) {
    st.boot_failure.reset();
    // The image has proven itself on this host: nothing older may replace it from now on.
    if (installed && *installed)
      if (auto err = ctx.store->raise_svn_floor((*installed)->fields.svn))
        ctx.log->error("coordinator", "cannot raise the svn floor: {}", describe(err));
    return;
  }
  // A recovery under way brings the host back itself, and that boot is watched again.
  if (recovering(st.phase) || st.safe_hold)
    return;
  st.boot_failure = r.detail;
  send_to(self, roles::monitor, caf::make_message(check_atom::value));
}

bool after_boot_failure(self_ptr self, const flash_report& report) {
  auto& st = self->state;
  if (!st.boot_failure)
    return false;
  const auto& ctx = *st.ctx;
  auto why = "boot failure: " + *st.boot_failure;
  st.boot_failure.reset();
  if (report.fault != flash_fault::none)
    return true; // The caller says why no recovery starts.
  if (!ctx.config.monitor.auto_recover) {
    ctx.log->warn("coordinator", "{}; monitor.auto_recover is off: no recovery starts", why);
    return true;
  }
  if (!report.checked || report.needs_recovery()) {
    auto reason = report.checked ? why + "; " + report.detail : why;
    start_recovery(self, reason, report.checked ? std::optional{report} : std::nullopt);
    return true;
  }
  // The flash holds the installed image, and it did not boot.
  boot_history history{ctx.store->dir()};
  auto records = history.records();
  if (!records) {
    ctx.log->error("coordinator", "{}; cannot read the boot history: {}", why,
                   describe(records.error()));
    return true;
  }
  auto failures = failures_in_a_row(*records, report.root);
  auto allowed = ctx.config.boot.failures_to_exclude;
  if (failures < allowed) {
    auto reason = fmt::format("{}; the flash verifies; failed boot {} of {} before the image is "
                              "excluded",
                              why, failures, allowed);
    send_to(self, roles::boot_watch, caf::make_message(power_cycle{reason}));
    return true;
  }
  if (auto err = history.add_failed_root(report.root)) {
    ctx.log->error("coordinator", "{}; cannot record the image as failed: {}", why,
                   describe(err));
    return true;
  }
  ctx.log->warn("coordinator",
                "the installed image (root {}) verifies but failed to boot {} times in a row: "
                "recorded as failed on this host, asking for another image",
                to_hex(report.root).substr(0, 16), failures);
  start_recovery(self,
                 fmt::format("{}; the installed image failed {} boots and is excluded", why,
                             failures));
  return true;
}

} // namespace fwrescue::coordinator_steps
