#include "transports/lan/lan_socket.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue::lan {

sockaddr_in endpoint(in_addr ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr = ip;
  addr.sin_port = htons(port);
  return addr;
}

namespace {

caf::error socket_error(const std::string& who, const std::string& what, int err) {
  return make_error(errc::io_failure, fmt::format("{}: {}: {}", who, what, errno_text(err)));
}

caf::error set_int_option(int fd, int level, int name, int value, const char* option_name,
                          const std::string& socket_name, const std::string& who) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0)
    return socket_error(who, fmt::format("cannot set {} on {}", option_name, socket_name), errno);
  return {};
}

bool all_digits(const std::string& s) {
  for (auto c : s)
    if (c < '0' || c > '9')
      return false;
  return !s.empty();
}

} // namespace

std::string errno_text(int err) {
  char buf[128];
  // The GNU strerror_r returns a pointer that may or may not be `buf`; it is thread-safe,
  // unlike strerror(), and the I/O thread runs beside the caller's threads.
  return ::strerror_r(err, buf, sizeof(buf));
}

caf::expected<in_addr> parse_ipv4(const std::string& text, const std::string& what) {
  in_addr ip{};
  if (::inet_pton(AF_INET, text.c_str(), &ip) != 1)
    return make_error(errc::invalid_argument,
                      fmt::format("{} \"{}\" is not an IPv4 address (a.b.c.d)", what, text));
  return ip;
}

caf::expected<sockaddr_in> parse_endpoint(const std::string& text) {
  auto bad = [&] {
    return make_error(errc::invalid_argument,
                      fmt::format("bad address \"{}\": expected an IPv4 address and a port "
                                  "1..65535 (\"192.0.2.1:47710\")",
                                  text));
  };
  auto colon = text.rfind(':');
  if (colon == std::string::npos)
    return bad();
  auto host = text.substr(0, colon);
  auto port_text = text.substr(colon + 1);
  // Five digits at most so stoul cannot overflow; no leading zero so each address has one
  // spelling.
  if (!all_digits(port_text) || port_text.size() > 5 || port_text[0] == '0')
    return bad();
  auto port = std::stoul(port_text);
  if (port > 65535)
    return bad();
  in_addr ip{};
  if (::inet_pton(AF_INET, host.c_str(), &ip) != 1)
    return bad();
  return endpoint(ip, static_cast<uint16_t>(port));
}

std::string to_string(in_addr ip) {
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &ip, buf, sizeof(buf));
  return buf;
}

std::string to_string(const sockaddr_in& addr) {
  return fmt::format("{}:{}", to_string(addr.sin_addr), ntohs(addr.sin_port));
}

bool same_endpoint(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

caf::expected<sockaddr_in> local_address(int fd, const std::string& who) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return socket_error(who, "cannot read a socket's address", errno);
  return addr;
}

caf::error set_multicast_options(int fd, in_addr interface, int ttl, const std::string& who) {
  auto name = "UDP socket on " + to_string(interface);
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof(interface)) != 0)
    return socket_error(who, fmt::format("cannot send multicast from {}", name), errno);
  if (auto err =
        set_int_option(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1, "IP_MULTICAST_LOOP", name, who))
    return err;
  if (auto err =
        set_int_option(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl, "IP_MULTICAST_TTL", name, who))
    return err;
  return set_int_option(fd, SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST", name, who);
}

caf::expected<unique_fd> open_discovery_socket(in_addr group, in_addr interface, uint16_t port,
                                               int ttl, const std::string& who) {
  auto local = endpoint(in_addr{htonl(INADDR_ANY)}, port);
  auto name = "UDP " + to_string(local);
  unique_fd fd{::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    return socket_error(who, "cannot create a UDP socket", errno);
  // Several daemons on one host (tests, demos, a BMC with two roles) share the port; multicast
  // and broadcast datagrams reach every one of them.
  if (auto err = set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", name, who))
    return err;
  if (auto err = set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT", name, who))
    return err;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0)
    return socket_error(who, "cannot bind " + name, errno);
  if (IN_MULTICAST(ntohl(group.s_addr))) {
    ip_mreq join{};
    join.imr_multiaddr = group;
    join.imr_interface = interface;
    if (::setsockopt(fd.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof(join)) != 0)
      return socket_error(
        who,
        fmt::format("cannot join multicast group {} on {}", to_string(group), to_string(interface)),
        errno);
  }
  if (auto err = set_multicast_options(fd.get(), interface, ttl, who))
    return err;
  return fd;
}

caf::expected<unique_fd> open_send_socket(in_addr interface, int ttl, const std::string& who) {
  auto local = endpoint(interface, 0);
  unique_fd fd{::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    return socket_error(who, "cannot create a UDP socket", errno);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0)
    return socket_error(who, "cannot bind UDP " + to_string(local), errno);
  if (auto err = set_multicast_options(fd.get(), interface, ttl, who))
    return err;
  return fd;
}

caf::expected<unique_fd> open_listener(in_addr interface, uint16_t port, const std::string& who) {
  auto local = endpoint(interface, port);
  auto name = "TCP " + to_string(local);
  unique_fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    return socket_error(who, "cannot create a TCP socket", errno);
  // A restarted daemon must get its port back while old connections sit in TIME_WAIT.
  if (auto err = set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", name, who))
    return err;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0)
    return socket_error(who, "cannot bind " + name, errno);
  if (::listen(fd.get(), SOMAXCONN) != 0)
    return socket_error(who, "cannot listen on " + name, errno);
  return fd;
}

void set_no_delay(int fd) {
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

caf::expected<unique_fd> open_wakeup(const std::string& who) {
  unique_fd fd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
  if (fd.get() < 0)
    return socket_error(who, "cannot create an eventfd", errno);
  return fd;
}

} // namespace fwrescue::lan
