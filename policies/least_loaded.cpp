// least-loaded: the donor with the smallest share of its upload slots in use, so that a fleet
// recovering at once spreads over its donors instead of queueing on the console.
#include "policies/selection.hpp"

namespace fwrescue::policies {

namespace {

/// active / max as an exact fraction; a donor with no slots is fully loaded (1/1).
struct share {
  uint64_t active;
  uint64_t max;
};

share share_of(const offer_facts& o) {
  if (o.max_uploads == 0)
    return {1, 1};
  return {o.active_uploads, o.max_uploads};
}

} // namespace

std::vector<size_t> least_loaded(std::span<const offer_facts> offers) {
  return order_by(offers, [](const offer_facts& a, const offer_facts& b) {
    // Cross-multiplied so that close fractions never round to equal; 32-bit factors fit.
    auto sa = share_of(a);
    auto sb = share_of(b);
    return sa.active * sb.max < sb.active * sa.max;
  });
}

} // namespace fwrescue::policies
