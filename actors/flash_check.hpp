#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "hal/flash.hpp"
#include "image/image_check.hpp"
#include "image/merkle.hpp"
#include "messages/manifest.hpp"

namespace fwrescue {

/// Hashes the first `size` bytes of the flash into a Merkle tree, reading 1 MiB at a time.
caf::expected<merkle_tree> hash_flash(flash& chip, uint64_t size, hash_algorithm alg,
                                      uint32_t block_size);

/// Checks the flash against a manifest: which blocks differ. An error means the flash could not
/// be read, is smaller than the image, or the manifest's digest list is inconsistent.
caf::expected<block_report> check_flash(flash& chip, const signed_manifest& m);

} // namespace fwrescue
