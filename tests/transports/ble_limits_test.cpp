// The bounds the BLE transport keeps on what peers make it spend (session_limits), over the
// emulation: sessions in all and per source, the handshake and idle deadlines, the frame limit
// on sessions peers open, the send queue, and the datagram backlog.

#include "tests/transports/ble_fixture.hpp"

#include <sys/socket.h>
#include <sys/un.h>

using namespace fwrescue;
using namespace fwrescue::test;
using namespace fwrescue::test::ble_tests;
using namespace std::chrono_literals;

namespace {

const std::string addr_a = "0B:00:00:00:00:01";
const std::string addr_b = "0B:00:00:00:00:02";

ble_options limited(const std::string& address, const temp_dir& dir, void (*set)(session_limits&)) {
  auto o = options(address, dir);
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

std::string reason_of(node& n, session_id id) {
  REQUIRE(n.events.wait([&](auto& l) { return l.reason(id) != nullptr; }));
  return *n.events.inspect([&](auto& l) { return l.reason(id); });
}

} // namespace

TEST_CASE("ble limits: an inbound session that sends no frame within the handshake time is "
          "closed") {
  temp_dir dir;
  node a{options(addr_a, dir)};
  node b{limited(addr_b, dir, [](session_limits& l) { l.handshake = 300ms; })};
  auto [ida, idb] = connect(a, b);
  CHECK(reason_of(b, idb) == "no whole frame within 300 ms of connecting");
  CHECK(reason_of(a, ida) == "closed by peer");
  CHECK(b.transport.counters().refused_sessions == 1);
}

TEST_CASE("ble limits: a connection that never sets up a channel is closed at the handshake "
          "time") {
  temp_dir dir;
  node b{limited(addr_b, dir, [](session_limits& l) { l.handshake = 300ms; })};
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto path = dir.path(addr_b + ".sock");
  std::copy(path.begin(), path.end(), addr.sun_path);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(eventually([&] { return b.transport.counters().refused_sessions == 1; }));
  char buf[16];
  CHECK(::recv(fd, buf, sizeof(buf), 0) == 0); // closed by the node
  ::close(fd);
  CHECK(b.events.inspect([](auto& l) { return l.event_count(); }) == 0);
}

TEST_CASE("ble limits: a session on which nothing moves is closed") {
  temp_dir dir;
  node a{options(addr_a, dir)};
  node b{limited(addr_b, dir, [](session_limits& l) { l.idle = 300ms; })};
  auto [ida, idb] = connect(a, b);
  a.transport.send_frame(ida, text("hello"));
  REQUIRE(b.events.wait([&](auto& l) { return l.frames[idb].size() == 1; }));
  CHECK(reason_of(b, idb) == "nothing sent or received for 300 ms");
}

TEST_CASE("ble limits: sessions from one peer are bounded") {
  temp_dir dir;
  node a{options(addr_a, dir)};
  node b{limited(addr_b, dir, [](session_limits& l) { l.max_inbound_per_source = 3; })};
  std::vector<session_id> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(a.transport.open_session(addr_b));
  REQUIRE(eventually([&] { return b.transport.counters().refused_sessions == 2; }));
  CHECK(inbound_opens(b) == 3);
  REQUIRE(a.events.wait([](auto& l) { return l.closes.size() == 2; }));
  for (const auto& [id, reason] : a.events.inspect([](auto& l) { return l.closes; }))
    CHECK(reason == "closed by peer");
}

TEST_CASE("ble limits: at the total, a session that never spoke makes room for a new one") {
  temp_dir dir;
  node a{options(addr_a, dir)};
  node b{limited(addr_b, dir, [](session_limits& l) { l.max_inbound = 2; })};
  auto silent = a.transport.open_session(addr_b);
  REQUIRE(b.events.wait([](auto& l) { return l.opens.size() == 1; }));
  auto silent_b = b.events.inspect([](auto& l) { return l.opens.at(0).id; });
  auto speaker = a.transport.open_session(addr_b);
  a.transport.send_frame(speaker, text("hi"));
  REQUIRE(b.events.wait([](auto& l) { return l.frames.size() == 1; }));
  auto third = a.transport.open_session(addr_b);
  REQUIRE(b.events.wait([](auto& l) { return l.opens.size() == 3; }));
  CHECK_THAT(reason_of(b, silent_b), Catch::StartsWith("replaced by a new session"));
  CHECK(reason_of(a, silent) == "closed by peer");
  a.transport.send_frame(third, text("me too"));
  REQUIRE(b.events.wait([](auto& l) { return l.frames.size() == 2; }));
  // Both speak now: a fourth is refused.
  auto fourth = a.transport.open_session(addr_b);
  CHECK(reason_of(a, fourth) == "closed by peer");
  CHECK(inbound_opens(b) == 3);
  CHECK(b.transport.counters().refused_sessions == 2);
}

TEST_CASE("ble limits: frames on a session a peer opened are bounded by max_inbound_frame") {
  temp_dir dir;
  node a{options(addr_a, dir)};
  node b{limited(addr_b, dir, [](session_limits& l) { l.max_inbound_frame = 64 * 1024; })};
  auto [ida, idb] = connect(a, b);
  a.transport.send_frame(ida, bytes(64 * 1024, 1));
  a.transport.send_frame(ida, bytes(64 * 1024 + 1, 2));
  REQUIRE(b.events.wait([&](auto& l) { return l.frames[idb].size() == 1; }));
  CHECK(reason_of(b, idb) == "frame of 65537 bytes exceeds the 65536-byte limit");
  CHECK(reason_of(a, ida) == "closed by peer");
  // And our own sends are bounded by max_frame.
  auto ida2 = a.transport.open_session(addr_b);
  a.transport.send_frame(ida2, bytes(ble::max_frame + 1, 3));
  CHECK(reason_of(a, ida2) == "frame of 262145 bytes exceeds the 262144-byte limit");
}

TEST_CASE("ble limits: a peer that does not read is cut off when the send queue passes its "
          "bound") {
  temp_dir dir;
  node a{limited(addr_a, dir, [](session_limits& l) { l.max_queued = 64 * 1024; })};
  node b{limited(addr_b, dir, [](session_limits& l) { l.max_unconsumed = 8 * 1024; }), false};
  auto [ida, idb] = connect(a, b);
  (void)idb;
  for (int i = 0; i < 64 && a.events.inspect([&](auto& l) { return l.reason(ida) == nullptr; });
       ++i) {
    a.transport.send_frame(ida, bytes(8 * 1024, 7));
    std::this_thread::sleep_for(5ms);
  }
  CHECK_THAT(reason_of(a, ida), Catch::StartsWith("peer does not read: "));
  CHECK(a.transport.counters().refused_sessions == 1);
}

TEST_CASE("ble limits: datagrams not yet handled are bounded, the rest dropped and counted") {
  temp_dir dir;
  auto oa = options(addr_a, dir);
  oa.peers = {addr_b};
  node a{oa};
  node b{limited(addr_b, dir, [](session_limits& l) { l.max_datagram_backlog = 4; }), false};
  for (int i = 0; i < 10; ++i)
    a.transport.broadcast(text("d" + std::to_string(i)));
  REQUIRE(eventually([&] { return b.transport.counters().dropped_datagrams == 6; }));
  CHECK(b.events.inspect([](auto& l) { return l.datagrams.size(); }) == 4);
  b.transport.datagram_consumed();
  a.transport.broadcast(text("after"));
  REQUIRE(b.events.wait([](auto& l) { return l.heard("after"); }));
}
