#include "tests/adversarial/hostile_net.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

namespace fwrescue::adversary {

namespace {

const clock::time_point started = clock::now();

std::string errno_text(int err) {
  char buf[128];
  return ::strerror_r(err, buf, sizeof(buf));
}

void set_option(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0)
    fatal(fmt::format("cannot set {}: {}", what, errno_text(errno)));
}

void set_multicast(int fd, in_addr interface) {
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof(interface)) != 0)
    fatal(
      fmt::format("cannot send multicast out of {}: {}", inet_ntoa(interface), errno_text(errno)));
  set_option(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1, "IP_MULTICAST_LOOP");
  set_option(fd, IPPROTO_IP, IP_MULTICAST_TTL, 0, "IP_MULTICAST_TTL");
}

int remaining_ms(clock::time_point deadline) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
  return static_cast<int>(std::clamp<decltype(ms)>(ms, 0, 60'000));
}

} // namespace

double elapsed_s() {
  return std::chrono::duration<double>(clock::now() - started).count();
}

void fatal(const std::string& why) {
  say("error: {}", why);
  std::exit(2);
}

in_addr parse_ip(const std::string& text) {
  in_addr ip{};
  if (::inet_pton(AF_INET, text.c_str(), &ip) != 1)
    fatal(fmt::format("\"{}\" is not an IPv4 address", text));
  auto host = ntohl(ip.s_addr);
  // Loopback and multicast only: the peer must never reach beyond this machine.
  if ((host >> 24) != 127 && !IN_MULTICAST(host))
    fatal(fmt::format("{} is neither in 127.0.0.0/8 nor a multicast group", text));
  return ip;
}

sockaddr_in endpoint(in_addr ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr = ip;
  addr.sin_port = htons(port);
  return addr;
}

sockaddr_in parse_endpoint(const std::string& typed) {
  // Offers name the link: "lan:a.b.c.d:port".
  auto text = typed.rfind("lan:", 0) == 0 ? typed.substr(4) : typed;
  auto colon = text.rfind(':');
  if (colon == std::string::npos)
    fatal(fmt::format("\"{}\" is not an address (a.b.c.d:port)", text));
  auto port = std::strtoul(text.c_str() + colon + 1, nullptr, 10);
  if (port == 0 || port > 65535)
    fatal(fmt::format("\"{}\" has no valid port", text));
  return endpoint(parse_ip(text.substr(0, colon)), static_cast<uint16_t>(port));
}

std::string to_string(const sockaddr_in& addr) {
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, buf, sizeof(buf));
  return fmt::format("{}:{}", buf, ntohs(addr.sin_port));
}

unique_fd udp_socket(in_addr source, in_addr interface) {
  unique_fd fd{::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    fatal("cannot create a UDP socket: " + errno_text(errno));
  auto local = endpoint(source, 0);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0)
    fatal(fmt::format("cannot bind UDP {}: {}", to_string(local), errno_text(errno)));
  set_multicast(fd.get(), interface);
  return fd;
}

unique_fd group_socket(in_addr group, in_addr interface, uint16_t port) {
  unique_fd fd{::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    fatal("cannot create a UDP socket: " + errno_text(errno));
  set_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  set_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
  auto local = endpoint(in_addr{htonl(INADDR_ANY)}, port);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0)
    fatal(fmt::format("cannot bind UDP {}: {}", to_string(local), errno_text(errno)));
  ip_mreq join{};
  join.imr_multiaddr = group;
  join.imr_interface = interface;
  if (::setsockopt(fd.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof(join)) != 0)
    fatal("cannot join the multicast group: " + errno_text(errno));
  set_multicast(fd.get(), interface);
  return fd;
}

bool send_datagram(int fd, const sockaddr_in& to, std::span<const uint8_t> bytes) {
  ssize_t n = 0;
  do {
    n = ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                 sizeof(to));
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(bytes.size());
}

std::optional<datagram> receive_datagram(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0)
    return std::nullopt;
  datagram d;
  d.bytes.resize(65536);
  socklen_t len = sizeof(d.from);
  auto n =
    ::recvfrom(fd, d.bytes.data(), d.bytes.size(), 0, reinterpret_cast<sockaddr*>(&d.from), &len);
  if (n < 0)
    return std::nullopt;
  d.bytes.resize(static_cast<size_t>(n));
  return d;
}

unique_fd tcp_listener(in_addr source) {
  unique_fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    fatal("cannot create a TCP socket: " + errno_text(errno));
  auto local = endpoint(source, 0);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0
      || ::listen(fd.get(), SOMAXCONN) != 0)
    fatal(fmt::format("cannot listen on {}: {}", to_string(local), errno_text(errno)));
  return fd;
}

uint16_t local_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

unique_fd start_connect(in_addr source, const sockaddr_in& to, int rcvbuf) {
  unique_fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    return fd;
  if (rcvbuf > 0)
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  auto local = endpoint(source, 0);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0)
    return unique_fd{};
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0
      && errno != EINPROGRESS)
    return unique_fd{};
  return fd;
}

unique_fd connect_to(in_addr source, const sockaddr_in& to, int timeout_ms, std::string& error,
                     int rcvbuf) {
  auto fd = start_connect(source, to, rcvbuf);
  if (fd.get() < 0) {
    error = errno_text(errno);
    return fd;
  }
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) {
    error = "connect timed out";
    return unique_fd{};
  }
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    error = errno_text(err);
    return unique_fd{};
  }
  return fd;
}

bool write_all(int fd, std::span<const uint8_t> bytes, clock::time_point deadline) {
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (clock::now() >= deadline || ::poll(&p, 1, remaining_ms(deadline)) <= 0)
        return false;
      continue;
    }
    return false;
  }
  return true;
}

std::array<uint8_t, 4> frame_header(uint32_t n) {
  return {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
          static_cast<uint8_t>(n >> 24)};
}

bool send_frame(int fd, std::span<const uint8_t> payload, clock::time_point deadline) {
  auto header = frame_header(static_cast<uint32_t>(payload.size()));
  return write_all(fd, header, deadline) && write_all(fd, payload, deadline);
}

bool send_message(int fd, const wire_message& m, clock::time_point deadline) {
  return send_frame(fd, encode(m), deadline);
}

frame_reader::result frame_reader::next(int fd, int timeout_ms) {
  auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (buffer_.size() >= 4) {
      auto n = static_cast<size_t>(buffer_[0]) | static_cast<size_t>(buffer_[1]) << 8
               | static_cast<size_t>(buffer_[2]) << 16 | static_cast<size_t>(buffer_[3]) << 24;
      if (n > wire_limits::max_message)
        return {status::closed, {}, fmt::format("frame length {} above the limit", n)};
      if (buffer_.size() >= 4 + n) {
        result r{
          status::frame, {buffer_.begin() + 4, buffer_.begin() + 4 + static_cast<long>(n)}, {}};
        buffer_.erase(buffer_.begin(), buffer_.begin() + 4 + static_cast<long>(n));
        return r;
      }
    }
    pollfd p{fd, POLLIN, 0};
    auto ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready == 0)
      return {status::timeout, {}, {}};
    if (ready < 0 && errno == EINTR)
      continue;
    uint8_t chunk[65536];
    auto got = ::recv(fd, chunk, sizeof(chunk), 0);
    if (got == 0)
      return {status::closed, {}, "end of stream"};
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      continue;
    if (got < 0)
      return {status::closed, {}, errno_text(errno)};
    buffer_.insert(buffer_.end(), chunk, chunk + got);
  }
}

std::string describe_frame(std::span<const uint8_t> frame) {
  auto m = decode(frame);
  if (!m)
    return "undecodable frame";
  return std::visit(
    [](const auto& x) -> std::string {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, decline>)
        return "decline: " + x.reason;
      else if constexpr (std::is_same_v<T, busy>)
        return fmt::format("busy (retry after {} ms)", x.retry_after_ms);
      else if constexpr (std::is_same_v<T, abort_transfer>)
        return "abort: " + x.reason;
      else if constexpr (std::is_same_v<T, refusal>)
        return "refusal: " + x.reason;
      else if constexpr (std::is_same_v<T, leaves>)
        return fmt::format("leaves {}..{}", x.first, x.first + x.digests.size());
      else if constexpr (std::is_same_v<T, block_data>)
        return fmt::format("block_data from {} ({} bytes)", x.first, x.bytes.size());
      else
        return kind_name(wire_message{x});
    },
    *m);
}

bool closed_by_peer(int fd, std::string& reason) {
  for (;;) {
    uint8_t chunk[65536];
    auto got = ::recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (got > 0)
      continue;
    if (got == 0) {
      reason = "end of stream";
      return true;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return false;
    reason = errno_text(errno);
    return true;
  }
}

uint64_t raise_descriptor_limit() {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  ::getrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

} // namespace fwrescue::adversary
