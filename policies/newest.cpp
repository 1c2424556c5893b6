// newest: the highest svn, then the highest version (compared naturally, "2.10" > "2.9"). For
// fleets that want every recovered node on the latest release whoever serves it.
#include "policies/selection.hpp"
#include "policies/version_compare.hpp"

namespace fwrescue::policies {

std::vector<size_t> newest(std::span<const offer_facts> offers) {
  return order_by(offers, [](const offer_facts& a, const offer_facts& b) {
    if (a.svn != b.svn)
      return a.svn > b.svn;
    return version_compare(a.version, b.version) > 0;
  });
}

} // namespace fwrescue::policies
