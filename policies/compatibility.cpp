#include "policies/compatibility.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "image/revocation.hpp"
#include "image/signing.hpp"

namespace fwrescue {

namespace {

std::string version_rule(const manifest& f, const compatibility_rules& rules) {
  if (!rules.pinned_version.empty()) {
    if (f.version != rules.pinned_version)
      return fmt::format("version {} is not the pinned version {}", f.version,
                         rules.pinned_version);
    return {};
  }
  const auto& allowed = rules.allowed_versions;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), f.version) == allowed.end())
    return fmt::format("version {} is not among the allowed versions ({})", f.version,
                       fmt::join(allowed, ", "));
  return {};
}

} // namespace

std::string incompatibility(const signed_manifest& m, const compatibility_rules& rules) {
  const auto& f = m.fields;
  // The signature comes first: nothing else in an unsigned manifest can be believed.
  if (!rules.revocation_error.empty())
    return rules.revocation_error;
  auto signer = check_signature(m, rules.trusted_keys);
  if (!signer)
    return "manifest " + describe(signer.error());
  // Right after the signer: an image for another firmware target must never reach this flash,
  // whatever else it satisfies.
  if (f.component != rules.component)
    return fmt::format("component {} does not match {}", f.component, rules.component);
  if (rules.revoked)
    if (auto reason = revocation_problem(*rules.revoked, m, *signer); !reason.empty())
      return reason;
  if (std::find(rules.failed_roots.begin(), rules.failed_roots.end(), f.merkle_root)
      != rules.failed_roots.end())
    return "this image failed to boot on this host (recorded in the boot history); it is "
           "excluded";
  if (f.platform != rules.platform)
    return fmt::format("platform {}:{} does not match {}:{}", f.platform.vendor, f.platform.board,
                       rules.platform.vendor, rules.platform.board);
  if (f.svn < rules.svn_floor)
    return fmt::format("svn {} is below the floor {}", f.svn, rules.svn_floor);
  if (rules.installed_svn && f.svn < *rules.installed_svn && !rules.allow_downgrade)
    return fmt::format("svn {} would downgrade the installed svn {} (policy.allow_downgrade is "
                       "off)",
                       f.svn, *rules.installed_svn);
  if (auto reason = version_rule(f, rules); !reason.empty())
    return reason;
  if (f.image_size > rules.flash_size)
    return fmt::format("image of {} bytes does not fit the {}-byte flash", f.image_size,
                       rules.flash_size);
  return {};
}

} // namespace fwrescue
