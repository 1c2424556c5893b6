#include "actors/location_pull.hpp"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "actors/staging_file.hpp"
#include "common/error.hpp"
#include "image/block_scan.hpp"
#include "image/hash.hpp"
#include "image/signing.hpp"

namespace fwrescue {

namespace {

/// Bytes gathered before the blocks among them are hashed together (on hash_threads()).
constexpr size_t verify_batch_bytes = 1 << 20;

/// Turns the bytes a location hands over into verified, staged blocks. Bytes must come in
/// whole runs of whole blocks, in order within a run; every block is checked against its
/// signed digest before it is written anywhere.
class block_assembler {
public:
  block_assembler(const signed_manifest& m, staging_file& staging, verified_blocks* keep,
                  std::vector<bool>& have, std::vector<bool>& staged)
    : m_(m), staging_(staging), keep_(keep), have_(have), staged_(staged) {
  }

  caf::error add(uint64_t offset, std::span<const uint8_t> bytes) {
    if (!buf_.empty() && offset != buf_offset_ + buf_.size())
      if (auto err = verify(true))
        return err;
    if (buf_.empty()) {
      if (offset % m_.fields.block_size != 0)
        return make_error(errc::malformed,
                          fmt::format("bytes at {} do not start a block", offset));
      buf_offset_ = offset;
    }
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
    return buf_.size() >= verify_batch_bytes ? verify(false) : caf::error{};
  }

  /// Checks and stages the whole blocks gathered; at the end of a run nothing may be left over.
  caf::error verify(bool end_of_run) {
    const auto& f = m_.fields;
    auto first = buf_offset_ / f.block_size;
    uint64_t count = 0;
    uint64_t used = 0;
    while (first + count < f.block_count()
           && used + f.block_length(first + count) <= buf_.size()) {
      used += f.block_length(first + count);
      ++count;
    }
    if (end_of_run && used != buf_.size())
      return make_error(errc::malformed,
                        fmt::format("a run ended inside block {}", first + count));
    if (count == 0)
      return {};
    digests_.resize(count);
    std::span<const uint8_t> bytes{buf_.data(), used};
    leaf_digests(f.hash, f.block_size, first, bytes, digests_, hash_threads());
    for (uint64_t k = 0; k < count; ++k)
      if (digests_[k] != m_.block_digests[first + k])
        return make_error(errc::content_mismatch,
                          fmt::format("block {} does not match its signed digest", first + k));
    if (auto err = staging_.write(buf_offset_, bytes))
      return err;
    for (uint64_t k = 0, at = 0; k < count; at += f.block_length(first + k), ++k) {
      auto i = first + k;
      if (keep_)
        keep_->put(i, bytes.subspan(at, f.block_length(i)));
      if (!have_[i])
        ++pulled_;
      have_[i] = staged_[i] = true;
    }
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(used));
    buf_offset_ += used;
    return {};
  }

  uint64_t pulled() const {
    return pulled_;
  }

private:
  const signed_manifest& m_;
  staging_file& staging_;
  verified_blocks* keep_;
  std::vector<bool>& have_;
  std::vector<bool>& staged_;
  std::vector<uint8_t> buf_;
  uint64_t buf_offset_ = 0;
  std::vector<digest> digests_;
  uint64_t pulled_ = 0;
};

/// Pulls one image whose manifest passed the rules. Returns why it would not do, or the result.
caf::expected<location_pull_result> pull_image(image_location& location, const located_image& img,
                                               const location_pull_options& o) {
  const auto& m = img.manifest;
  const auto& f = m.fields;
  auto n = f.block_count();
  location_pull_result out;
  out.where = location.name() + " " + img.where;
  out.target = m;
  std::vector<bool> have(n, false);
  out.staged.assign(n, false);
  // Blocks the flash holds already: taken from the check that started the recovery when it
  // was made against this image, else found by hashing the flash in this image's shape.
  const auto& known = o.flash_check;
  if (known.checked && known.root == f.merkle_root && known.block_count == n) {
    std::vector<bool> bad(n, false);
    for (const auto& r : known.bad)
      for (auto i = r.first; i < std::min(r.end, n); ++i)
        bad[i] = true;
    for (uint64_t i = 0; i < n; ++i)
      have[i] = !bad[i];
  } else if (o.chip) {
    mark_present(
      m, have, [&](uint64_t at, std::span<uint8_t> bytes) { return o.chip->read(at, bytes); },
      o.chip->geometry().size);
  }
  out.reused = static_cast<uint64_t>(std::count(have.begin(), have.end(), true));
  std::remove(o.staging_path.c_str());
  auto staging = staging_file::open(o.staging_path, f.image_size);
  if (!staging)
    return std::move(staging.error());
  if (f.image_size <= o.verified_in_memory_bytes)
    if (auto memory = verified_blocks::make(f.merkle_root, f.image_size, f.block_size))
      out.verified = std::move(*memory);
  auto runs = missing_runs(f, have);
  o.note(fmt::format("{}: {} of {} blocks already on the flash; reading {} in {} run(s)",
                     out.where, out.reused, n, n - out.reused, runs.size()));
  block_assembler blocks{m, **staging, out.verified.get(), have, out.staged};
  uint64_t reported = 0;
  auto sink = [&](uint64_t offset, std::span<const uint8_t> bytes) -> caf::error {
    if (o.cancelled())
      return make_error(errc::io_failure, "cancelled");
    if (auto err = blocks.add(offset, bytes))
      return err;
    if (blocks.pulled() >= reported + 256) {
      reported = blocks.pulled();
      o.progress(out.reused + reported, n, f.block_size);
    }
    return {};
  };
  if (auto err = location.read(img, runs, sink))
    return err;
  if (auto err = blocks.verify(true))
    return err;
  if (blocks.pulled() != n - out.reused)
    return make_error(errc::io_failure, fmt::format("{} of {} blocks came", blocks.pulled(),
                                                    n - out.reused));
  if (auto err = (*staging)->sync())
    return err;
  out.pulled = blocks.pulled();
  o.progress(n, n, f.block_size);
  return out;
}

} // namespace

std::vector<byte_run> missing_runs(const manifest& m, const std::vector<bool>& have) {
  std::vector<byte_run> runs;
  for (uint64_t i = 0; i < m.block_count(); ++i) {
    if (have[i])
      continue;
    uint64_t at = i * m.block_size;
    if (!runs.empty() && runs.back().offset + runs.back().length == at)
      runs.back().length += m.block_length(i);
    else
      runs.push_back({at, m.block_length(i)});
  }
  return runs;
}

caf::expected<location_pull_result> pull_from_location(image_location& location,
                                                       const location_pull_options& o) {
  std::vector<std::string> reasons;
  auto found = location.list(reasons);
  if (!found)
    return make_error(errc::io_failure, describe(found.error()));
  std::vector<const located_image*> usable;
  for (const auto& img : *found) {
    if (auto why = incompatibility(img.manifest, o.rules); !why.empty()) {
      reasons.push_back(fmt::format("{}: {}", img.where, why));
      continue;
    }
    if (auto tree = block_digest_tree(img.manifest); !tree) {
      reasons.push_back(fmt::format("{}: {}", img.where, describe(tree.error())));
      continue;
    }
    usable.push_back(&img);
  }
  std::stable_sort(usable.begin(), usable.end(), [](auto* a, auto* b) {
    const auto& x = a->manifest.fields;
    const auto& y = b->manifest.fields;
    return x.svn != y.svn ? x.svn > y.svn : x.created_at > y.created_at;
  });
  for (const auto* img : usable) {
    if (o.cancelled())
      return make_error(errc::io_failure, "cancelled");
    auto pulled = pull_image(location, *img, o);
    if (pulled)
      return pulled;
    reasons.push_back(fmt::format("{}: {}", img->where, describe(pulled.error())));
    o.note(reasons.back());
  }
  std::remove(o.staging_path.c_str());
  if (reasons.empty())
    return make_error(errc::io_failure, "no image there");
  // One line: the first reasons, then how many more.
  constexpr size_t shown = 3;
  auto line = fmt::format("{}", fmt::join(reasons.begin(),
                                          reasons.begin() + static_cast<ptrdiff_t>(
                                                              std::min(shown, reasons.size())),
                                          "; "));
  if (reasons.size() > shown)
    line += fmt::format("; and {} more", reasons.size() - shown);
  return make_error(errc::io_failure, line);
}

} // namespace fwrescue
