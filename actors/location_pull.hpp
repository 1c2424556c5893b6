#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hal/flash.hpp"
#include "image/verified_blocks.hpp"
#include "messages/node_events.hpp"
#include "policies/compatibility.hpp"
#include "sources/image_location.hpp"

namespace fwrescue {

struct location_pull_options {
  /// What an image must satisfy, as for a peer's offer.
  compatibility_rules rules;
  /// The check that started this recovery: when the image has the root it checked against,
  /// the blocks it found good are taken as present on the flash without being read again.
  flash_report flash_check;
  /// The flash region the image is for; blocks already there are not read from the location.
  std::shared_ptr<flash> chip;
  /// Where the image is assembled; created afresh.
  std::string staging_path;
  /// Pulled blocks are also kept in memory for the flasher when the image is at most this big.
  uint64_t verified_in_memory_bytes = 0;
  /// Asked between pieces of the read; true ends the pull.
  std::function<bool()> cancelled = [] { return false; };
  /// Blocks held so far and in all, reported as they grow.
  std::function<void(uint64_t have, uint64_t total, uint64_t block_size)> progress =
    [](uint64_t, uint64_t, uint64_t) {};
  /// One line per step worth an operator's notice.
  std::function<void(const std::string&)> note = [](const std::string&) {};
};

struct location_pull_result {
  signed_manifest target;
  /// Where the image came from (the location's name and the image's path or URL).
  std::string where;
  uint64_t pulled = 0;
  uint64_t reused = 0;
  /// Per block: in the staging file (the others are verified on the flash).
  std::vector<bool> staged;
  /// The pulled blocks, kept in memory since they were verified (null when none are).
  std::shared_ptr<verified_blocks> verified;
};

/// Takes an image from `location` as a transfer takes one from a peer: lists what is there,
/// keeps the images that pass `rules` (signer, revocations, platform, svn floor, versions, size)
/// and whose block digests build their signed root, and tries them newest first (svn, then
/// signing time). For the image tried, the blocks the flash already holds are kept, only the
/// runs of the others are read, every block read is checked against its digest before it is
/// staged, and one bad block refuses the image. Fails with one line saying why no image
/// there would do ("local /srv/golden: bios.fd: block 12 does not match its signed digest").
caf::expected<location_pull_result> pull_from_location(image_location& location,
                                                       const location_pull_options& options);

/// The runs of bytes holding the blocks not in `have`, adjacent blocks joined.
std::vector<byte_run> missing_runs(const manifest& m, const std::vector<bool>& have);

} // namespace fwrescue
