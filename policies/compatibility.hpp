#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "image/keys.hpp"
#include "messages/manifest.hpp"

namespace fwrescue {

/// What an offered image must satisfy to be considered at all.
struct compatibility_rules {
  platform_id platform;
  /// max(config floor, stored floor).
  uint32_t svn_floor = 0;
  uint64_t flash_size = 0;
  std::vector<public_key> trusted_keys;
};

/// Why `m` is not acceptable, or an empty string when it is. The reason is one line
/// ("platform Acme:X12 does not match Acme:X11").
std::string incompatibility(const signed_manifest& m, const compatibility_rules& rules);

} // namespace fwrescue
