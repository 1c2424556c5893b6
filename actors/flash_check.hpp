#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "hal/flash.hpp"
#include "image/image_check.hpp"
#include "image/merkle.hpp"
#include "messages/manifest.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

/// Hashes the first `size` bytes of the flash into a Merkle tree, reading 1 MiB at a time and
/// hashing each megabyte's blocks on `threads` threads.
caf::expected<merkle_tree> hash_flash(flash& chip, uint64_t size, hash_algorithm alg,
                                      uint32_t block_size, unsigned threads = 1);

/// Checks the flash against a manifest: which blocks differ. An error means the flash could not
/// be read, is smaller than the image, or the manifest's digest list is inconsistent.
caf::expected<block_report> check_flash(flash& chip, const signed_manifest& m,
                                        unsigned threads = 1);

/// The report an operator sees for a check of the flash against `m`: the bad blocks and a
/// one-line detail ("flash matches …", "17 of 892 blocks do not match <against>, …", or the
/// error).
flash_report flash_report_for(const signed_manifest& m, const caf::expected<block_report>& blocks,
                              const char* against = "the installed manifest");

} // namespace fwrescue
