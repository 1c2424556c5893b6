// The floor for bench/recovery_bench: the least a recovery of N bytes can cost on this machine.
// One thread sends N bytes over a TCP connection on loopback to another that receives them into
// one buffer, then one BLAKE2b-256 pass runs over the received bytes. Not a test.
//
// Usage: tcp_floor [BYTES [ROUNDS]]   (defaults: 33554432 bytes, best of 3 rounds)
// Prints one line of key=value pairs so a script can read it and a person too:
//   floor_ms=68.1 tcp_ms=12.0 hash_ms=56.1 bytes=33554432 rounds=3
//
// The connection is set up and both buffers are touched before the clock starts: a recovery's
// session is open before its blocks move, and the recipient's staging pages are what a copy into
// a warm page cache costs, not page faults. The copy and the hash are timed apart and summed; a
// recovery could overlap them on two cores, so the floor is generous to the daemon only in that
// it ignores overlap, never in leaving work out.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "image/hash.hpp"

using namespace fwrescue;
using clock_type = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
  fmt::print(stderr, "tcp_floor: {}\n", what);
  std::exit(1);
}

[[noreturn]] void die_errno(const std::string& what) {
  die(fmt::format("{}: {}", what, std::strerror(errno)));
}

double ms_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

/// A connected pair of loopback TCP sockets: {sending end, receiving end}.
std::pair<int, int> loopback_pair() {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0)
    die_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0; // any free port
  socklen_t len = sizeof(addr);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0)
    die_errno("bind 127.0.0.1");
  if (::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    die_errno("getsockname");
  if (::listen(listener, 1) != 0)
    die_errno("listen");
  int sender = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sender < 0)
    die_errno("socket");
  if (::connect(sender, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    die_errno("connect 127.0.0.1");
  int receiver = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (receiver < 0)
    die_errno("accept");
  ::close(listener);
  // The daemon's sessions set TCP_NODELAY too; for one bulk stream it changes next to nothing.
  int one = 1;
  ::setsockopt(sender, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return {sender, receiver};
}

void send_all(int fd, const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      die_errno("send");
    done += static_cast<size_t>(n);
  }
}

void receive_all(int fd, std::vector<uint8_t>& into) {
  // 1 MiB per recv(), like the daemon's per-round read budget.
  constexpr size_t chunk = 1 << 20;
  size_t done = 0;
  while (done < into.size()) {
    auto n = ::recv(fd, into.data() + done, std::min(chunk, into.size() - done), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      die_errno("recv");
    if (n == 0)
      die("the sender closed the connection early");
    done += static_cast<size_t>(n);
  }
}

/// Milliseconds to move `image` from one thread to another over a fresh loopback connection.
double tcp_copy_ms(const std::vector<uint8_t>& image, std::vector<uint8_t>& received) {
  auto [sender, receiver] = loopback_pair();
  auto start = clock_type::now();
  std::thread sending{[&, fd = sender] { send_all(fd, image); }};
  receive_all(receiver, received);
  auto took = ms_since(start);
  sending.join();
  ::close(sender);
  ::close(receiver);
  return took;
}

} // namespace

int main(int argc, char** argv) {
  if (!init_crypto())
    die("cannot initialise libsodium");
  size_t bytes = size_t{32} << 20;
  int rounds = 3;
  if (argc > 3 || (argc > 1 && std::strcmp(argv[1], "--help") == 0)) {
    fmt::print(stderr, "usage: tcp_floor [BYTES [ROUNDS]]\n");
    return 2;
  }
  if (argc > 1)
    bytes = std::strtoull(argv[1], nullptr, 10);
  if (argc > 2)
    rounds = std::atoi(argv[2]);
  if (bytes == 0 || rounds <= 0)
    die("BYTES and ROUNDS must be positive integers");

  std::vector<uint8_t> image(bytes);
  randombytes_buf(image.data(), image.size());
  std::vector<uint8_t> received(bytes); // zero-filled: its pages are touched before timing

  double best_tcp = 1e300;
  double best_hash = 1e300;
  digest sum{};
  for (int i = 0; i < rounds; ++i) {
    best_tcp = std::min(best_tcp, tcp_copy_ms(image, received));
    auto start = clock_type::now();
    hasher h{hash_algorithm::blake2b_256};
    h.update(received);
    sum = h.finish();
    best_hash = std::min(best_hash, ms_since(start));
  }
  if (sum != plain_digest(hash_algorithm::blake2b_256, image))
    die("the received bytes differ from the sent ones");
  fmt::print("floor_ms={:.1f} tcp_ms={:.1f} hash_ms={:.1f} bytes={} rounds={}\n",
             best_tcp + best_hash, best_tcp, best_hash, bytes, rounds);
  return 0;
}
