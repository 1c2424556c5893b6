// The transfer's staging step: once the digests are known, what is already held (in the staging
// file, on the flash) is found and only the rest is pulled.
#include <algorithm>
#include <span>

#include "actors/transfer.hpp"
#include "actors/transfer_steps.hpp"
#include "common/error.hpp"
#include "image/block_scan.hpp"

namespace fwrescue::transfer_steps {


/// Once the digests are known: reuse what the staging file (when it belongs to the same image)
/// and the flash already hold, and record the transfer in the journal. Blocks found on the
/// flash stay there: they are not copied to the staging file, and the flasher leaves their
/// sectors alone.
///
/// When the job carries the monitor's check that started this recovery, made against this same
/// image, the blocks it found good are taken as present on the flash without reading them
/// again. Nothing is written on that trust: the flasher rewrites only sectors holding a pulled
/// block (checking every block of such a sector first), and its final check reads them all; a
/// block that changed since makes this attempt fail, and the next one scans the flash.
caf::error prepare_staging(self_ptr self) {
  auto& st = self->state;
  const auto& m = st.target.fields;
  auto n = m.block_count();
  if (st.staged_root != m.merkle_root || !st.staging) {
    // What peers are served of another image is read from the staging file about to be reused.
    if (st.partial && st.partial->manifest().fields.merkle_root != m.merkle_root)
      withdraw_partial(self);
    auto staging = staging_file::open(st.ctx->store->staging_path(), m.image_size);
    if (!staging)
      return std::move(staging.error());
    st.staging = std::move(*staging);
    st.have.assign(n, false);
    st.pulled = 0;
    // Blocks an earlier attempt verified into memory stay good for the same image (and peers
    // may be reading them there); memory for another image goes.
    bool same_memory = st.verified && st.verified->root() == m.merkle_root;
    if (!same_memory)
      st.verified.reset();
    auto limit = uint64_t{st.ctx->config.recovery.verified_in_memory_mib} << 20;
    // Memory readied while offers were awaited is taken when it fits; else it is released here.
    auto ready = std::move(st.ready);
    if (!same_memory && m.image_size <= limit) {
      if (ready && ready->adopt(m.merkle_root, m.image_size, m.block_size)) {
        st.verified = std::move(ready);
      } else if (auto memory = verified_blocks::make(m.merkle_root, m.image_size, m.block_size)) {
        st.verified = std::move(*memory);
      } else {
        st.ctx->log->warn("transfer",
                          "not keeping verified blocks in memory ({}); the flasher will read "
                          "them back from the staging file and check them again",
                          describe(memory.error()));
      }
    }
    auto journal = st.ctx->store->journal();
    bool resuming = journal && *journal && (*journal)->target.fields.merkle_root == m.merkle_root;
    uint64_t from_staging = 0;
    if (resuming)
      from_staging = mark_present(
        st.target, st.have,
        [&](uint64_t at, std::span<uint8_t> out) { return st.staging->read(at, out); },
        m.image_size);
    st.staged = st.have;
    const auto& known = st.flash_check;
    bool trusted = known.checked && known.root == m.merkle_root && known.block_count == n;
    uint64_t on_flash = 0;
    if (trusted) {
      std::vector<bool> bad(n, false);
      for (const auto& r : known.bad)
        for (auto i = r.first; i < std::min(r.end, n); ++i)
          bad[i] = true;
      for (uint64_t i = 0; i < n; ++i)
        if (!st.have[i] && !bad[i]) {
          st.have[i] = true;
          ++on_flash;
        }
    } else {
      on_flash = mark_present(
        st.target, st.have,
        [&](uint64_t at, std::span<uint8_t> out) { return st.ctx->chip->read(at, out); },
        st.ctx->chip->geometry().size);
    }
    st.have_count = st.reused = from_staging + on_flash;
    st.staged_root = m.merkle_root;
    st.ctx->log->info("transfer",
                      "{} of {} blocks already present ({} staged before a restart, "
                      "{} on the flash{}); pulling {}",
                      st.have_count, n, from_staging, on_flash,
                      trusted ? " by the check that started this recovery" : "", n - st.have_count);
    publish_partial(self);
  }
  auto* from = lead(st);
  return st.ctx->store->write_journal({recovery_journal::phase::transferring, st.target,
                                       from ? from->donor.source.fields.donor : std::string{"?"}});
}

} // namespace fwrescue::transfer_steps
