#include "transports/link_timing.hpp"

#include <algorithm>

namespace fwrescue {

namespace {

/// Bytes of a session's opening, an accept and a confirm, with their framing.
constexpr uint64_t handshake_bytes = 2048;
/// An image request and this many offers must fit the discovery window, with room for the
/// medium access of a shared bus.
constexpr uint64_t offers_expected = 6;

} // namespace

std::chrono::milliseconds link_time(const link_properties& link, uint64_t bytes) {
  if (link.nominal_rate_bps == 0)
    return std::chrono::milliseconds{0};
  auto ms = bytes * wire_bits_per_byte * 1000 / link.nominal_rate_bps;
  return std::chrono::milliseconds(ms + link.latency_us / 1000);
}

uint32_t block_window(uint32_t configured, const link_properties& link, uint32_t block_size) {
  if (link.nominal_rate_bps == 0 || block_size == 0)
    return configured;
  auto two_seconds = link.nominal_rate_bps * 2 / wire_bits_per_byte / block_size;
  return static_cast<uint32_t>(std::clamp<uint64_t>(two_seconds, 2, std::max(configured, 2u)));
}

std::chrono::milliseconds block_timeout(std::chrono::milliseconds configured,
                                        const link_properties& link, uint64_t window_bytes) {
  return std::max(configured, 3 * link_time(link, window_bytes));
}

std::chrono::milliseconds handshake_timeout(std::chrono::milliseconds configured,
                                            const link_properties& link) {
  return std::max(configured, 3 * link_time(link, handshake_bytes));
}

std::chrono::milliseconds discovery_window(std::chrono::milliseconds configured,
                                           const link_properties& slowest) {
  auto bytes = (offers_expected + 1) * std::max<uint64_t>(slowest.max_datagram, 256);
  return std::max(configured, link_time(slowest, bytes));
}

link_properties slowest_link(const link_properties& all) {
  auto out = all;
  if (all.slowest_rate_bps != 0) {
    out.nominal_rate_bps = all.slowest_rate_bps;
    out.latency_us = all.slowest_latency_us;
  }
  return out;
}

std::chrono::milliseconds node_discovery_window(std::chrono::milliseconds configured,
                                                const link_properties& all) {
  return discovery_window(configured, slowest_link(all));
}

uint64_t digests_per_frame(uint64_t most, const link_properties& link) {
  if (link.nominal_rate_bps == 0)
    return most;
  // About half a second of the link per frame.
  auto per_half_second = link.nominal_rate_bps / wire_bits_per_byte / 2 / 32;
  return std::clamp<uint64_t>(per_half_second, 16, most);
}

} // namespace fwrescue
