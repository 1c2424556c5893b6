// The bounds the LAN transport keeps on what peers make it spend (session_limits): sessions in
// all and per source, the handshake and idle deadlines, the send queue, the frames received and
// not yet handled, the datagram backlog, and the descriptors kept in reserve.

#include "tests/transports/lan_fixture.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>

using namespace fwrescue;
using namespace fwrescue::test::lan_tests;
using namespace std::chrono_literals;

namespace {

/// Options for a node whose limits the test sets.
lan_options limited(void (*set)(session_limits&)) {
  auto o = options(free_port(SOCK_DGRAM));
  set(o.limits);
  return o;
}

size_t inbound_opens(node& n) {
  return n.events.inspect([](auto& l) {
    size_t k = 0;
    for (const auto& o : l.opens)
      k += o.inbound ? 1 : 0;
    return k;
  });
}

} // namespace

TEST_CASE("lan limits: a session that sends no frame within the handshake time is closed") {
  node b{limited([](session_limits& l) { l.handshake = 300ms; })};
  raw_socket raw{SOCK_STREAM};
  raw.connect_to(b.transport.session_address());
  raw.send_all({1, 0, 0}); // three bytes of a length prefix, and then nothing
  REQUIRE(b.events.wait([](auto& l) { return !l.closes.empty(); }));
  CHECK(b.events.inspect([](auto& l) { return l.closes.at(0).second; })
        == "no whole frame within 300 ms of connecting");
  CHECK(raw.closed_by_peer());
  CHECK(b.transport.refused_sessions() == 1);
}

TEST_CASE("lan limits: a session on which nothing moves is closed") {
  node a{options(free_port(SOCK_DGRAM))};
  node b{limited([](session_limits& l) { l.idle = 300ms; })};
  auto [ida, idb] = connect(a, b);
  a.transport.send_frame(ida, text("hello"));
  REQUIRE(b.events.wait([&](auto& l) { return l.frames[idb].size() == 1; }));
  REQUIRE(b.events.wait([&](auto& l) { return l.reason(idb) != nullptr; }));
  CHECK(*b.events.inspect([&](auto& l) { return l.reason(idb); })
        == "nothing sent or received for 300 ms");
}

TEST_CASE("lan limits: sessions from one source are bounded, other sources still get in") {
  node b{limited([](session_limits& l) { l.max_inbound_per_source = 3; })};
  std::vector<std::unique_ptr<raw_socket>> hog;
  for (int i = 0; i < 6; ++i) {
    hog.push_back(std::make_unique<raw_socket>(SOCK_STREAM));
    hog.back()->connect_to(b.transport.session_address());
  }
  REQUIRE(eventually([&] { return b.transport.refused_sessions() == 3; }));
  CHECK(inbound_opens(b) == 3);
  CHECK(hog.back()->closed_by_peer()); // refused: closed at once
  raw_socket other{SOCK_STREAM};
  other.bind_to("127.0.0.2");
  other.connect_to(b.transport.session_address());
  REQUIRE(b.events.wait([](auto& l) { return l.opens.size() == 4; }));
}

TEST_CASE("lan limits: at the total, a session that never spoke makes room for a new one") {
  node b{limited([](session_limits& l) {
    l.max_inbound = 2;
    l.max_inbound_per_source = 8;
  })};
  raw_socket silent{SOCK_STREAM}, speaker{SOCK_STREAM};
  silent.connect_to(b.transport.session_address());
  REQUIRE(b.events.wait([](auto& l) { return l.opens.size() == 1; }));
  auto silent_id = b.events.inspect([](auto& l) { return l.opens.at(0).id; });
  speaker.connect_to(b.transport.session_address());
  auto frame = length_prefix(2);
  frame.push_back('h');
  frame.push_back('i');
  speaker.send_all(frame);
  REQUIRE(b.events.wait([](auto& l) { return l.frames.size() == 1; }));
  // A third: the silent one goes, the one that spoke stays.
  raw_socket third{SOCK_STREAM};
  third.connect_to(b.transport.session_address());
  REQUIRE(b.events.wait([](auto& l) { return l.opens.size() == 3; }));
  REQUIRE(b.events.wait([&](auto& l) { return l.reason(silent_id) != nullptr; }));
  CHECK_THAT(*b.events.inspect([&](auto& l) { return l.reason(silent_id); }),
             Catch::StartsWith("replaced by a new session"));
  CHECK(silent.closed_by_peer());
  // With only speakers and the newcomer (which has not spoken either), a fourth replaces the
  // newcomer; once both speak, a fifth is refused.
  third.send_all(frame);
  REQUIRE(b.events.wait([](auto& l) { return l.frames.size() == 2; }));
  raw_socket fifth{SOCK_STREAM};
  fifth.connect_to(b.transport.session_address());
  CHECK(fifth.closed_by_peer());
  CHECK(b.events.inspect([](auto& l) { return l.opens.size(); }) == 3);
}

TEST_CASE("lan limits: a peer that does not read is cut off when the send queue passes its "
          "bound") {
  node b{limited([](session_limits& l) { l.max_queued = 4u << 20; })};
  raw_socket lazy{SOCK_STREAM};
  int small = 4096;
  ::setsockopt(lazy.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  lazy.connect_to(b.transport.session_address());
  lazy.send_all(length_prefix(0)); // one empty frame: the handshake
  REQUIRE(b.events.wait([](auto& l) { return !l.opens.empty(); }));
  auto id = b.events.inspect([](auto& l) { return l.opens.at(0).id; });
  auto frame = bytes(1 << 20, 0x5a);
  size_t most = 0;
  for (int i = 0; i < 64 && b.events.inspect([&](auto& l) { return l.reason(id) == nullptr; });
       ++i) {
    b.transport.send_frame(id, frame);
    most = std::max(most, b.transport.queued(id));
    std::this_thread::sleep_for(5ms);
  }
  REQUIRE(b.events.wait([&](auto& l) { return l.reason(id) != nullptr; }));
  CHECK_THAT(*b.events.inspect([&](auto& l) { return l.reason(id); }),
             Catch::StartsWith("peer does not read"));
  CHECK(most <= size_t{4} << 20);
}

TEST_CASE("lan limits: the sender hears when a full queue has drained") {
  node a{limited([](session_limits& l) { l.max_queued = 8u << 20; })};
  // b takes one frame and then stops reading until it is told the frame was handled.
  auto o = options(free_port(SOCK_DGRAM));
  o.limits.max_unconsumed = 1;
  node b{o, false};
  auto [ida, idb] = connect(a, b);
  auto low_water = size_t{4} << 20;
  for (int i = 0; i < 40 && a.transport.queued(ida) < low_water; ++i) {
    a.transport.send_frame(ida, bytes(1 << 20, static_cast<uint8_t>(i)));
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(a.transport.queued(ida) >= low_water);
  CHECK(a.events.inspect([](auto& l) { return l.drained.size(); }) == 0);
  b.events.consumer = &b.transport; // b handles everything from now on
  b.transport.frame_consumed(idb, 1 << 20);
  REQUIRE(a.events.wait([&](auto& l) { return !l.drained.empty(); }));
  CHECK(a.events.inspect([](auto& l) { return l.drained.at(0); }) == ida);
  REQUIRE(eventually([&] { return a.transport.queued(ida) == 0; }));
}

TEST_CASE("lan limits: reading pauses while the frames received are not handled") {
  auto roomy = [](session_limits& l) { l.max_queued = 32u << 20; };
  node a{limited(roomy)};
  node b{options(free_port(SOCK_DGRAM)), false}; // b's receiver handles nothing by itself
  auto [ida, idb] = connect(a, b);
  for (int i = 0; i < 16; ++i)
    a.transport.send_frame(ida, bytes(1 << 20, static_cast<uint8_t>(i)));
  REQUIRE(b.events.wait([&](auto& l) { return l.frames[idb].size() >= 4; }));
  std::this_thread::sleep_for(300ms);
  auto held = b.events.inspect([&](auto& l) { return l.frames[idb].size(); });
  // The bound is 4 MiB: reading stops once it is reached (a frame may straddle it).
  CHECK(held >= 4);
  CHECK(held <= 5);
  b.transport.frame_consumed(idb, held << 20);
  REQUIRE(
    b.events.wait([&](auto& l) { return l.frames[idb].size() >= std::min<size_t>(16, held + 4); }));
  // Handling each frame as it comes lets the rest through.
  b.events.consumer = &b.transport;
  auto got = b.events.inspect([&](auto& l) { return l.frames[idb].size(); });
  b.transport.frame_consumed(idb, got << 20);
  REQUIRE(b.events.wait([&](auto& l) { return l.frames[idb].size() == 16; }));
}

TEST_CASE("lan limits: a peer's frame above the inbound bound closes its session") {
  node b{limited([](session_limits& l) { l.max_inbound_frame = 64 * 1024; })};
  raw_socket raw{SOCK_STREAM};
  raw.connect_to(b.transport.session_address());
  raw.send_all(length_prefix(64 * 1024 + 1));
  REQUIRE(b.events.wait([](auto& l) { return !l.closes.empty(); }));
  CHECK(b.events.inspect([](auto& l) { return l.closes.at(0).second; })
        == "frame of 65537 bytes exceeds the 65536-byte limit");
}

TEST_CASE("lan limits: datagrams not yet handled are bounded") {
  auto port = free_port(SOCK_DGRAM);
  auto o = options(port);
  o.limits.max_datagram_backlog = 32;
  node b{o, false};
  raw_socket raw{SOCK_DGRAM};
  raw.connect_to("127.0.0.1:" + std::to_string(port));
  for (int i = 0; i < 200; ++i)
    raw.send_all(bytes(100, static_cast<uint8_t>(i)));
  REQUIRE(eventually([&] {
    return b.events.inspect([](auto& l) { return l.datagrams.size(); })
             + b.transport.dropped_datagrams()
           == 200;
  }));
  CHECK(b.events.inspect([](auto& l) { return l.datagrams.size(); }) == 32);
  for (int i = 0; i < 32; ++i)
    b.transport.datagram_consumed();
  raw.send_all(bytes(100, 1));
  REQUIRE(b.events.wait([](auto& l) { return l.datagrams.size() == 33; }));
}

TEST_CASE("lan limits: descriptors are kept in reserve for the rest of the process") {
  // A child process opens connections until refused; this process must keep the reserve free.
  auto count_fds = [] {
    size_t n = 0;
    for (int fd = 0; fd < 4096; ++fd)
      n += ::fcntl(fd, F_GETFD) != -1 ? 1 : 0;
    return n;
  };
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
  rlimit tight = old;
  tight.rlim_cur = count_fds() + 64;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  {
    auto o = options(free_port(SOCK_DGRAM));
    o.limits.descriptor_reserve = 24;
    o.limits.max_inbound = 1000;
    o.limits.max_inbound_per_source = 1000;
    node b{o};
    auto address = b.transport.session_address();
    auto child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      std::vector<int> fds;
      for (int i = 0; i < 200; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port =
          htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
        ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
        ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        fds.push_back(fd);
      }
      ::sleep(2);
      ::_exit(0);
    }
    REQUIRE(eventually([&] { return b.transport.refused_sessions() > 0; }));
    // Whatever the child does, this process can still open what the reserve is for.
    std::vector<int> mine;
    for (int i = 0; i < 20; ++i)
      mine.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    CHECK(std::count(mine.begin(), mine.end(), -1) == 0);
    for (auto fd : mine)
      if (fd >= 0)
        ::close(fd);
    int status = 0;
    ::waitpid(child, &status, 0);
  }
  ::setrlimit(RLIMIT_NOFILE, &old);
}
