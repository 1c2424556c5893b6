#include "tests/sources/flaky_server.hpp"

#include <charconv>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fwrescue::test {

namespace {

/// Waits up to 50 ms for `fd` to be readable, so the loops see a stop request soon.
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 50) > 0;
}

bool send_all(int fd, const void* data, size_t size) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    auto n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

/// The value of header `name` (lower case) in `request`, or "".
std::string header(const std::string& request, const std::string& name) {
  std::string lower;
  for (char c : request)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos)
    return {};
  auto start = request.find_first_not_of(' ', at + 3 + name.size());
  return request.substr(start, request.find("\r\n", start) - start);
}

} // namespace

flaky_server::flaky_server(flaky_options options) : options_(std::move(options)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0
      || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0
      || ::listen(listener_, 8) != 0)
    throw std::runtime_error("flaky_server: cannot listen on 127.0.0.1");
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread{[this] { serve(); }};
}

flaky_server::~flaky_server() {
  stopping_ = true;
  thread_.join();
  ::close(listener_);
}

std::string flaky_server::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
}

std::vector<std::string> flaky_server::ranges_asked() const {
  std::lock_guard guard{mutex_};
  return ranges_asked_;
}

void flaky_server::serve() {
  while (!stopping_) {
    if (!readable(listener_))
      continue;
    int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    ++connections_;
    serve_connection(fd);
    ::close(fd);
  }
}

void flaky_server::serve_connection(int fd) {
  std::string pending;
  while (!stopping_) {
    auto end = pending.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (!readable(fd))
        continue;
      char buf[4096];
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        return; // the client closed
      pending.append(buf, static_cast<size_t>(n));
      continue;
    }
    auto request = pending.substr(0, end + 2);
    pending.erase(0, end + 4);
    auto range = header(request, "range");
    {
      std::lock_guard guard{mutex_};
      ranges_asked_.push_back(range);
    }
    if (!answer(fd, range))
      return;
  }
}

bool flaky_server::answer(int fd, const std::string& range) {
  const auto& body = options_.body;
  if (requests_++ < options_.busy_first) {
    std::string busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    return send_all(fd, busy.data(), busy.size());
  }
  uint64_t first = 0;
  uint64_t last = body.size() - 1;
  bool partial = false;
  if (options_.ranges && range.starts_with("bytes=")) {
    auto spec = range.substr(6);
    auto dash = spec.find('-');
    std::from_chars(spec.data(), spec.data() + dash, first);
    if (dash + 1 < spec.size())
      std::from_chars(spec.data() + dash + 1, spec.data() + spec.size(), last);
    last = std::min<uint64_t>(last, body.size() - 1);
    first += options_.range_shift;
    last = std::min<uint64_t>(last + options_.range_shift, body.size() - 1);
    partial = true;
  }
  uint64_t length = last + 1 - first;
  std::string head = partial ? "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes "
                                 + std::to_string(first) + "-" + std::to_string(last) + "/"
                                 + std::to_string(body.size()) + "\r\n"
                             : std::string{"HTTP/1.1 200 OK\r\n"};
  head += "Content-Type: application/octet-stream\r\nContent-Length: " + std::to_string(length)
          + "\r\n\r\n";
  if (!send_all(fd, head.data(), head.size()))
    return false;
  int nth = bodies_sent_++;
  if (nth < options_.cut_first || nth < options_.stall_first) {
    send_all(fd, body.data() + first, length / 2);
    if (nth < options_.cut_first)
      return false; // closed halfway
    // Stalled: hold the connection, sending nothing, until the client gives up on it.
    char c;
    while (!stopping_)
      if (readable(fd) && ::recv(fd, &c, 1, 0) <= 0)
        break;
    return false;
  }
  return send_all(fd, body.data() + first, length);
}

} // namespace fwrescue::test
