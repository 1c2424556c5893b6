// prefer-console: the management console's image whenever it answers (it holds the catalog the
// operator curates), then peers, each group by newest svn and then arrival.
#include "policies/selection.hpp"

namespace fwrescue::policies {

std::vector<size_t> prefer_console(std::span<const offer_facts> offers) {
  return order_by(offers, [](const offer_facts& a, const offer_facts& b) {
    bool ca = a.role == node_role::console;
    bool cb = b.role == node_role::console;
    if (ca != cb)
      return ca;
    if (a.svn != b.svn)
      return a.svn > b.svn;
    return a.arrival < b.arrival;
  });
}

} // namespace fwrescue::policies
