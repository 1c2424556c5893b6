#include "actors/fetch.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "actors/location_pull.hpp"
#include "actors/negotiation.hpp"
#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/hex.hpp"
#include "image/image_check.hpp"

namespace fwrescue {

namespace fs = std::filesystem;

namespace {

using self_ptr = caf::stateful_actor<fetch_state>*;

constexpr std::string_view staging_prefix = "fetch-";
constexpr std::string_view staging_suffix = ".staging";
constexpr std::string_view golden_prefix = "golden-";

void tell_coordinator(self_ptr self, caf::message msg) {
  if (auto coord = find_role(self->system(), roles::coordinator, *self->state.ctx))
    self->send(coord, std::move(msg));
}

/// Staging files of jobs that were given up, or of a run that ended mid-job.
void remove_leftovers(const node_context& ctx) {
  std::error_code ec;
  for (fs::directory_iterator it{ctx.store->dir(), ec}, end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.starts_with(staging_prefix) && name.ends_with(staging_suffix))
      fs::remove(it->path(), ec);
  }
}

void run_job(self_ptr self, const fetch_job& job) {
  const auto& ctx = *self->state.ctx;
  auto fail = [&](const std::string& why) {
    tell_coordinator(self, caf::make_message(fetch_failed{job.job, job.source, why}));
  };
  auto location = job.location;
  if (!location) {
    auto named = ctx.locations.find(job.source);
    if (named == ctx.locations.end())
      return fail("this node has no such location");
    location = named->second;
  }
  if (job.cancelled->load())
    return fail("cancelled");
  location_pull_options o;
  o.rules = node_rules(ctx);
  o.flash_check = job.flash_check;
  o.chip = ctx.chip;
  o.staging_path =
    fmt::format("{}/{}{}{}", ctx.store->dir(), staging_prefix, job.job, staging_suffix);
  o.verified_in_memory_bytes = uint64_t{ctx.config.recovery.verified_in_memory_mib} << 20;
  o.cancelled = [flag = job.cancelled] { return flag->load(); };
  o.progress = [self, &job](uint64_t have, uint64_t total, uint64_t block_size) {
    tell_coordinator(self, caf::make_message(
                             transfer_progress{job.source, have, total, job.job, block_size}));
  };
  o.note = [&ctx, &job](const std::string& line) { ctx.log->info("fetch", "{}", line); };
  ctx.log->info("fetch", "looking for an image at {}", job.source);
  auto before = location->bytes_read();
  auto started = std::chrono::steady_clock::now();
  auto pulled = pull_from_location(*location, o);
  ctx.metrics->bytes_pulled.add({ctx.target, job.source}, location->bytes_read() - before);
  if (!pulled) {
    std::remove(o.staging_path.c_str());
    return fail(describe(pulled.error()));
  }
  ctx.log->info("fetch", "image staged from {}: {} svn {}, {} blocks read, {} on the flash ({} "
                "bytes from the location)",
                pulled->where, pulled->target.fields.version, pulled->target.fields.svn,
                pulled->pulled, pulled->reused, location->bytes_read() - before);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  ctx.metrics->transfer_seconds.observe({ctx.target, job.source}, took.count());
  transfer_done d{std::move(pulled->target), pulled->where,         pulled->pulled,
                  pulled->reused,            std::move(pulled->staged), std::move(pulled->verified)};
  d.job = job.job;
  tell_coordinator(self,
                   caf::make_message(fetch_done{std::move(d), o.staging_path, job.source}));
}

/// Copies the image on the flash into the local directory as golden-<root>, checks the copy
/// against the manifest, and only then removes older golden copies: at every moment the
/// directory holds at least one complete, verified copy (the manifest is written last, so an
/// image without one is never listed).
void keep_golden_copy(const node_context& ctx, const signed_manifest& m) {
  const auto& dir = ctx.config.local.dir;
  if (dir.empty())
    return;
  auto root = to_hex(m.fields.merkle_root);
  auto image = fmt::format("{}/{}{}.bin", dir, golden_prefix, root.substr(0, 16));
  auto manifest = image + ".fwm";
  auto failed = [&](const std::string& why) {
    ctx.log->warn("fetch", "golden copy not kept in {}: {}", dir, why);
  };
  std::error_code ec;
  if (fs::exists(manifest, ec))
    if (auto v = verify_image_file(m, ctx.trusted_keys, image);
        v && v->result == image_verdict::outcome::ok)
      return; // this image is the golden copy already
  auto tmp = image + ".tmp";
  {
    std::vector<uint8_t> bytes(m.fields.image_size);
    if (auto err = ctx.chip->read(0, bytes))
      return failed("cannot read the flash: " + describe(err));
    if (auto err = write_file_atomic(tmp, bytes, 0644, on_existing::replace, "golden image"))
      return failed(describe(err));
  }
  auto verdict = verify_image_file(m, ctx.trusted_keys, tmp);
  if (!verdict || verdict->result != image_verdict::outcome::ok) {
    fs::remove(tmp, ec);
    return failed("the copy does not verify: "
                  + (verdict ? verdict->detail : describe(verdict.error())));
  }
  fs::rename(tmp, image, ec);
  if (ec)
    return failed(fmt::format("cannot rename {}: {}", tmp, ec.message()));
  if (auto err = write_file_atomic(manifest, encode_manifest_file(m), 0644, on_existing::replace,
                                   "golden manifest"))
    return failed(describe(err));
  size_t removed = 0;
  for (fs::directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    auto path = it->path().string();
    if (!name.starts_with(golden_prefix) || !name.ends_with(".bin.fwm") || path == manifest)
      continue;
    std::error_code rm;
    fs::remove(path, rm); // the manifest first: an image without one is never offered
    fs::remove(path.substr(0, path.size() - 4), rm);
    ++removed;
  }
  ctx.log->info("fetch", "golden copy kept: {} ({} svn {}){}", image, m.fields.version,
                m.fields.svn, removed ? fmt::format("; {} older one(s) removed", removed) : "");
}

} // namespace

caf::behavior fetch(caf::stateful_actor<fetch_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  remove_leftovers(*ctx);
  return {
    [=](start_atom) {},
    [=](fetch_job& job) { run_job(self, job); },
    [=](keep_golden& k) { keep_golden_copy(*self->state.ctx, k.manifest); },
    [=](context_update& u) { self->state.ctx = std::move(u.ctx); },
  };
}

} // namespace fwrescue
