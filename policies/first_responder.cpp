// first-responder: the offer that arrived first. The cheapest choice when every donor is
// equally good and the link is the bottleneck.
#include "policies/selection.hpp"

namespace fwrescue::policies {

std::vector<size_t> first_responder(std::span<const offer_facts> offers) {
  return order_by(offers, [](const offer_facts& a, const offer_facts& b) {
    return a.arrival < b.arrival;
  });
}

} // namespace fwrescue::policies
