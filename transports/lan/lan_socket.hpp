#pragma once

#include <cstdint>
#include <string>

#include <netinet/in.h>

#include <caf/expected.hpp>

#include "common/unique_fd.hpp"

// Socket plumbing for the LAN transport: descriptor ownership, strict address parsing and the
// setup of the three sockets a node opens. Errors name the address and the errno text and are
// prefixed with `who` ("lan", or "lan (node-a)").
namespace fwrescue::lan {

using fwrescue::unique_fd;

/// strerror() as a string ("Connection refused").
std::string errno_text(int err);

/// Parses a dotted-quad IPv4 address as inet_pton() reads it; `what` names the field in the
/// error ("multicast group").
caf::expected<in_addr> parse_ipv4(const std::string& text, const std::string& what);

/// Parses "a.b.c.d:port" strictly: an IPv4 address as inet_pton() reads it, a colon, and a
/// decimal port 1..65535 without sign, spaces or leading zeros.
caf::expected<sockaddr_in> parse_endpoint(const std::string& text);

/// The IPv4 socket address of `ip` and `port` (host order).
sockaddr_in endpoint(in_addr ip, uint16_t port);

/// Renders an IPv4 address as "a.b.c.d".
std::string to_string(in_addr ip);

/// Renders an address as "a.b.c.d:port".
std::string to_string(const sockaddr_in& addr);

/// Whether two addresses are the same IPv4 address and port.
bool same_endpoint(const sockaddr_in& a, const sockaddr_in& b);

/// The address a socket is bound to.
caf::expected<sockaddr_in> local_address(int fd, const std::string& who);

/// Sets the options a datagram sender needs for discovery: IP_MULTICAST_IF = `interface`,
/// IP_MULTICAST_LOOP on (daemons on one host must hear each other), IP_MULTICAST_TTL, and
/// SO_BROADCAST (the group may be a broadcast address).
caf::error set_multicast_options(int fd, in_addr interface, int ttl, const std::string& who);

/// The discovery socket: UDP bound to 0.0.0.0:`port`, shared with other daemons on the host
/// (SO_REUSEADDR + SO_REUSEPORT), joined to `group` on `interface` when it is a multicast
/// address.
caf::expected<unique_fd> open_discovery_socket(in_addr group, in_addr interface, uint16_t port,
                                               int ttl, const std::string& who);

/// The sending socket: UDP bound to `interface`:0, so answers come back to this node alone
/// instead of to one random daemon sharing the discovery port.
caf::expected<unique_fd> open_send_socket(in_addr interface, int ttl, const std::string& who);

/// The session listener: TCP bound to `interface`:`port` (0 = any free port).
caf::expected<unique_fd> open_listener(in_addr interface, uint16_t port, const std::string& who);

/// Turns off Nagle's algorithm: a block request must leave at once, not wait for more bytes.
/// A failure only costs latency, so it is not reported.
void set_no_delay(int fd);

/// An eventfd that other threads write to wake the I/O thread out of poll().
caf::expected<unique_fd> open_wakeup(const std::string& who);

} // namespace fwrescue::lan
