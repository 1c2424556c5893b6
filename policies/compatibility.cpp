#include "policies/compatibility.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "image/signing.hpp"

namespace fwrescue {

std::string incompatibility(const signed_manifest& m, const compatibility_rules& rules) {
  const auto& f = m.fields;
  if (auto signer = check_signature(m, rules.trusted_keys); !signer)
    return "manifest " + describe(signer.error());
  if (f.platform != rules.platform)
    return fmt::format("platform {}:{} does not match {}:{}", f.platform.vendor, f.platform.board,
                       rules.platform.vendor, rules.platform.board);
  if (f.svn < rules.svn_floor)
    return fmt::format("svn {} is below the floor {}", f.svn, rules.svn_floor);
  if (f.image_size > rules.flash_size)
    return fmt::format("image of {} bytes does not fit the {}-byte flash", f.image_size,
                       rules.flash_size);
  return {};
}

} // namespace fwrescue
