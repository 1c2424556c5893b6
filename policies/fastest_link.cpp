// fastest-link: the offer whose image should arrive soonest, estimated as the measured round
// trip plus image size over the link's nominal rate. For mixed links (LAN next to a slow
// management bus) and large images.
#include "policies/selection.hpp"

namespace fwrescue::policies {

std::vector<size_t> fastest_link(std::span<const offer_facts> offers) {
  return order_by(offers, [](const offer_facts& a, const offer_facts& b) {
    auto ta = estimated_time_us(a);
    auto tb = estimated_time_us(b);
    // Offers over a link of unknown rate cannot be estimated: they go last, the quickest to
    // answer first among them.
    if (ta && tb)
      return *ta < *tb;
    if (ta || tb)
      return ta.has_value();
    return a.rtt_us < b.rtt_us;
  });
}

} // namespace fwrescue::policies
