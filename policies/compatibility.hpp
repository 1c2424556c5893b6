#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "image/keys.hpp"
#include "messages/manifest.hpp"
#include "messages/revocation.hpp"

namespace fwrescue {

/// What an offered image must satisfy to be considered at all.
struct compatibility_rules {
  platform_id platform;
  /// The firmware target this node's flash holds ([flash] component).
  std::string component = default_component;
  /// max(config floor, stored floor).
  uint32_t svn_floor = 0;
  uint64_t flash_size = 0;
  std::vector<public_key> trusted_keys;
  /// Versions accepted, compared exactly; empty accepts any ([policy] allowed_versions).
  std::vector<std::string> allowed_versions;
  /// When not empty, the only version accepted ([policy] pin_version).
  std::string pinned_version;
  /// Accept an svn below the installed one ([policy] allow_downgrade). The floor still holds.
  bool allow_downgrade = false;
  /// The svn of the installed manifest; empty when none is recorded (no downgrade check).
  std::optional<uint32_t> installed_svn;
  /// The newest revocation list this node accepted: its images and keys are refused.
  std::optional<revocation_list> revoked;
  /// Set when the stored revocation list cannot be read: then nothing is accepted, since what
  /// it revokes is unknown.
  std::string revocation_error;
  /// Roots of images that failed to boot on this host: refused, whoever offers them.
  std::vector<digest> failed_roots;
};

/// Why `m` is not acceptable, or an empty string when it is. The reason is one line
/// ("platform Acme:X12 does not match Acme:X11"). Rules are checked in a fixed order and the
/// first that fails is reported: signer, component, revocation, failed boots, platform, svn floor,
/// downgrade, version pin or list, size. Each rule has its own wording, listed in docs/policies.md.
std::string incompatibility(const signed_manifest& m, const compatibility_rules& rules);

} // namespace fwrescue
