#include "policies/selection.hpp"

namespace fwrescue::policies {

double load_share(const offer_facts& offer) {
  if (offer.max_uploads == 0)
    return 1.0;
  return static_cast<double>(offer.active_uploads) / offer.max_uploads;
}

std::optional<double> estimated_time_us(const offer_facts& offer) {
  if (offer.link_rate_bps == 0)
    return std::nullopt;
  // In double: image_size * 8 * 1e6 overflows 64 bits for images past 2 TB, and the policies
  // only compare the results.
  return static_cast<double>(offer.rtt_us)
         + static_cast<double>(offer.image_size) * 8e6 / static_cast<double>(offer.link_rate_bps);
}

} // namespace fwrescue::policies
