#pragma once

#include <chrono>
#include <cstdint>

#include "transports/transport.hpp"

namespace fwrescue {

// How long things take on a link, and what the recovery protocol sizes from that. A configured
// value is a floor for fast links; a slow link stretches deadlines to what its rate allows and
// shrinks the request window to what keeps it busy (docs/slow-links.md).

/// Bits a byte costs on the wire: a serial line's start and stop bits are the worst case of the
/// links fwrescue runs on, and the others carry framing of at least as much.
constexpr uint64_t wire_bits_per_byte = 10;

/// Time to move `bytes` over the link at its nominal rate; zero when the rate is unknown.
std::chrono::milliseconds link_time(const link_properties& link, uint64_t bytes);

/// Blocks a recipient keeps requested at once: `configured` on a fast link; on a slow one, what
/// the link moves in about two seconds, at least two blocks so the next is on its way while one
/// is verified.
uint32_t block_window(uint32_t configured, const link_properties& link, uint32_t block_size);

/// How long a donor may send nothing before it is dropped: `configured`, or three times what a
/// full window takes on the link (a half-duplex bus also carries the requests and acks).
std::chrono::milliseconds block_timeout(std::chrono::milliseconds configured,
                                        const link_properties& link, uint64_t window_bytes);

/// How long a donor has to confirm an accept: `configured`, or what a session's opening and two
/// small frames take on the link, three times over.
std::chrono::milliseconds handshake_timeout(std::chrono::milliseconds configured,
                                            const link_properties& link);

/// How long offers are collected after a request: `configured`, or what the request and a few
/// offers of the largest datagram take on the slowest link.
std::chrono::milliseconds discovery_window(std::chrono::milliseconds configured,
                                           const link_properties& slowest);

/// The properties of a node's slowest link, from those of all its links together.
link_properties slowest_link(const link_properties& all);

/// The discovery window a node with these links waits: discovery_window() over the slowest.
std::chrono::milliseconds node_discovery_window(std::chrono::milliseconds configured,
                                                const link_properties& all);

/// Block digests per Leaves frame: a frame is delivered only whole, so on a slow link a frame
/// must arrive well within a block timeout.
uint64_t digests_per_frame(uint64_t most, const link_properties& link);

} // namespace fwrescue
