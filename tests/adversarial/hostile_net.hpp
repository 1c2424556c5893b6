#pragma once

// Plain POSIX sockets for the hostile peer: datagrams on the cluster's group, TCP sessions with
// the LAN framing (a 4-byte little-endian length, then one encoded Envelope), and one line of
// output per thing done. Deliberately independent of transports/lan: the peer must keep speaking
// the wire format while the daemon's transport changes under it.

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <netinet/in.h>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/unique_fd.hpp"
#include "messages/protocol.hpp"

namespace fwrescue::adversary {

using clock = std::chrono::steady_clock;

/// Seconds since the program started, for the prefix of every line.
double elapsed_s();

/// Prints one line ("[  1.234] text") and flushes it, so a test reading the log sees it at once.
template <class... Ts>
void say(fmt::format_string<Ts...> format, Ts&&... args) {
  fmt::print("[{:8.3f}] {}\n", elapsed_s(), fmt::format(format, std::forward<Ts>(args)...));
  std::fflush(stdout);
}

/// Ends the program with exit status 2 after printing why: the attack could not be set up, so
/// whatever it would have shown is unknown.
[[noreturn]] void fatal(const std::string& why);

/// "a.b.c.d" (only 127.0.0.0/8 and multicast groups are accepted: the peer attacks loopback only).
in_addr parse_ip(const std::string& text);
sockaddr_in endpoint(in_addr ip, uint16_t port);
/// "a.b.c.d:port", loopback only.
sockaddr_in parse_endpoint(const std::string& text);
std::string to_string(const sockaddr_in& addr);

/// A UDP socket bound to `source`:0 that sends multicast out of `interface`.
unique_fd udp_socket(in_addr source, in_addr interface);
/// A UDP socket that hears the group on `port`, sharing the port with the daemons
/// (SO_REUSEADDR + SO_REUSEPORT, as transports/lan does).
unique_fd group_socket(in_addr group, in_addr interface, uint16_t port);
/// False when the datagram could not be handed to the kernel.
bool send_datagram(int fd, const sockaddr_in& to, std::span<const uint8_t> bytes);

struct datagram {
  sockaddr_in from{};
  std::vector<uint8_t> bytes;
};
/// The next datagram within `timeout_ms` (0: only one already waiting).
std::optional<datagram> receive_datagram(int fd, int timeout_ms);

/// A TCP listener on `source`:0.
unique_fd tcp_listener(in_addr source);
/// The port a socket is bound to.
uint16_t local_port(int fd);
/// Starts a non-blocking connect from `source` to `to`; an invalid fd when socket() or bind()
/// failed (errno tells why). `rcvbuf` > 0 sets SO_RCVBUF before connecting (the window the peer
/// sees is then tiny).
unique_fd start_connect(in_addr source, const sockaddr_in& to, int rcvbuf = 0);
/// A blocking-style connect: waits up to `timeout_ms`; the error text on failure.
unique_fd connect_to(in_addr source, const sockaddr_in& to, int timeout_ms, std::string& error,
                     int rcvbuf = 0);

/// Writes all of `bytes` to a non-blocking socket, waiting for room until `deadline`.
bool write_all(int fd, std::span<const uint8_t> bytes, clock::time_point deadline);
/// The 4-byte little-endian length prefix of a LAN frame.
std::array<uint8_t, 4> frame_header(uint32_t length);
/// Writes one frame (header and payload).
bool send_frame(int fd, std::span<const uint8_t> payload, clock::time_point deadline);
bool send_message(int fd, const wire_message& m, clock::time_point deadline);

/// Reads LAN frames from one socket.
class frame_reader {
public:
  enum class status { frame, timeout, closed };
  struct result {
    status what = status::timeout;
    std::vector<uint8_t> frame;
    /// Why the stream ended ("end of stream", "Connection reset by peer", a bad length).
    std::string reason;
  };
  /// The next whole frame, waiting up to `timeout_ms`.
  result next(int fd, int timeout_ms);

private:
  std::vector<uint8_t> buffer_;
};

/// One line about a message a daemon sent: "confirm", "decline: <reason>", "busy (retry after
/// 1000 ms)", "abort: <reason>", "leaves 0..895", "block_data 3..18", or "undecodable: ...".
std::string describe_frame(std::span<const uint8_t> frame);

/// Whether a connected socket has been closed by its peer, reading (and discarding) what is
/// waiting. `reason` says how it ended.
bool closed_by_peer(int fd, std::string& reason);

/// Raises this process's descriptor limit to its hard limit; returns the new soft limit.
uint64_t raise_descriptor_limit();

} // namespace fwrescue::adversary
