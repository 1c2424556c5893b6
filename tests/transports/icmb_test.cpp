// The ICMB transport over the emulated bus (fwrescue-icmb-bus): datagrams, sessions carrying
// large frames byte-exact with collisions and bit errors, opens that find nobody, and the
// errors of start().

#include "tests/transports/icmb_fixture.hpp"

#include <fcntl.h>
#include <unistd.h>

using namespace fwrescue;
using namespace fwrescue::test;
using namespace fwrescue::test::icmb_tests;

namespace {

std::vector<bytes> big_frames(int n, uint64_t seed) {
  std::vector<bytes> out;
  for (int i = 0; i < n; ++i)
    out.push_back(random_bytes(100 * 1024, seed + static_cast<uint64_t>(i)));
  return out;
}

/// Waits (generously: a frame of 100 KiB takes 9 s at 115200 baud) for `count` frames on `id`.
bool wait_frames(node& n, session_id id, size_t count, std::chrono::seconds limit) {
  return n.events.wait([&](auto& l) { return l.frames[id].size() >= count || !l.closes.empty(); },
                       limit);
}

std::vector<bytes> frames_of(node& n, session_id id) {
  return n.events.inspect([&](auto& l) { return l.frames[id]; });
}

} // namespace

TEST_CASE("icmb: properties name the link and its rate") {
  icmb_options o;
  o.baud = 115200;
  icmb_transport t{o};
  auto p = t.properties();
  CHECK(p.kind == "icmb");
  CHECK(p.max_datagram == 1400);
  CHECK(p.max_frame >= 128 * 1024);
  CHECK(p.nominal_rate_bps == 115200);
  CHECK(p.latency_us > 0);
  CHECK(t.session_address().empty());
}

TEST_CASE("icmb: broadcast and unicast datagrams among three nodes") {
  bus b{3};
  node n0{options(b, 0)}, n1{options(b, 1)}, n2{options(b, 2)};
  CHECK(n1.transport.session_address() == "0x0011");
  auto big = random_bytes(1400, 5);
  n0.transport.broadcast(lan_tests::text("hello from 0"));
  n0.transport.broadcast(big);
  for (auto* n : {&n1, &n2}) {
    REQUIRE(n->events.wait([&](auto& l) { return l.datagrams.size() >= 2; }));
    n->events.inspect([&](auto& l) {
      CHECK(l.datagrams[0].first == "0x0010");
      CHECK(l.datagrams[0].second == lan_tests::text("hello from 0"));
      CHECK(l.datagrams[1].second == big);
    });
  }
  CHECK(n0.events.inspect([](auto& l) { return l.datagrams.empty(); })); // not its own
  n2.transport.send_datagram("0x0010", lan_tests::text("just for 0"));
  REQUIRE(n0.events.wait([](auto& l) { return l.heard("just for 0"); }));
  CHECK(n0.events.inspect([](auto& l) { return l.datagrams.at(0).first; }) == "0x0012");
  // n1 never hears it; a broadcast sent after it reaches n1 after it would have.
  n2.transport.broadcast(lan_tests::text("marker"));
  REQUIRE(n1.events.wait([](auto& l) { return l.heard("marker"); }));
  CHECK_FALSE(n1.events.inspect([](auto& l) { return l.heard("just for 0"); }));
  n0.transport.broadcast(random_bytes(1401, 1));
  CHECK(n0.transport.counters().dropped_datagrams == 1);
}

TEST_CASE("icmb: two nodes answer each other's broadcasts at once") {
  bus b{2};
  node n0{options(b, 0)}, n1{options(b, 1)};
  for (int i = 0; i < 5; ++i) {
    n0.transport.broadcast(lan_tests::text("a" + std::to_string(i)));
    n1.transport.broadcast(lan_tests::text("b" + std::to_string(i)));
  }
  REQUIRE(n0.events.wait([](auto& l) { return l.heard("b4"); }, 20s));
  REQUIRE(n1.events.wait([](auto& l) { return l.heard("a4"); }, 20s));
}

TEST_CASE("icmb: a session carries frames of 100 KiB byte-exact at 115200 baud") {
  bus b{2};
  node n0{options(b, 0)}, n1{options(b, 1)};
  auto [id0, id1] = connect(n0, n1);
  auto sent = big_frames(3, 100);
  for (auto& f : sent)
    n0.transport.send_frame(id0, f);
  REQUIRE(wait_frames(n1, id1, sent.size(), 120s));
  CHECK(same_frames(frames_of(n1, id1), sent));
  CHECK(n0.transport.queued(id0) == 0);
  // Both ends close cleanly; the peer hears it.
  n0.transport.close_session(id0);
  REQUIRE(n1.events.wait([&](auto& l) { return l.reason(id1) != nullptr; }, 10s));
  CHECK(*n1.events.inspect([&](auto& l) { return l.reason(id1); }) == "closed by peer");
}

TEST_CASE("icmb: a session at the default 19200 baud") {
  bus b{2, 19200};
  node n0{options(b, 0)}, n1{options(b, 1)};
  auto [id0, id1] = connect(n0, n1);
  auto sent = std::vector<bytes>{random_bytes(3000, 1), random_bytes(10, 2)};
  for (auto& f : sent)
    n0.transport.send_frame(id0, f);
  n1.transport.send_frame(id1, lan_tests::text("answer"));
  REQUIRE(wait_frames(n1, id1, sent.size(), 60s));
  CHECK(same_frames(frames_of(n1, id1), sent));
  REQUIRE(wait_frames(n0, id0, 1, 60s));
  CHECK(frames_of(n0, id0).at(0) == lan_tests::text("answer"));
}

TEST_CASE("icmb: both ends of a session send at once") {
  bus b{2};
  node n0{options(b, 0)}, n1{options(b, 1)};
  auto [id0, id1] = connect(n0, n1);
  auto from0 = big_frames(2, 200);
  auto from1 = big_frames(2, 300);
  for (size_t i = 0; i < from0.size(); ++i) {
    n0.transport.send_frame(id0, from0[i]);
    n1.transport.send_frame(id1, from1[i]);
  }
  REQUIRE(wait_frames(n1, id1, from0.size(), 180s));
  REQUIRE(wait_frames(n0, id0, from1.size(), 180s));
  CHECK(same_frames(frames_of(n1, id1), from0));
  CHECK(same_frames(frames_of(n0, id0), from1));
  auto stats0 = n0.transport.stats();
  auto stats1 = n1.transport.stats();
  WARN("collisions seen " << stats0.collisions + stats1.collisions << ", retransmissions "
                          << stats0.retransmissions + stats1.retransmissions);
}

TEST_CASE("icmb: a session survives a bit-error rate of 1e-4") {
  bus b{2, 115200, {"--bit-error-rate", "1e-4", "--seed", "7"}};
  node n0{options(b, 0)}, n1{options(b, 1)};
  auto [id0, id1] = connect(n0, n1);
  auto sent = big_frames(2, 400);
  auto start = std::chrono::steady_clock::now();
  for (auto& f : sent)
    n0.transport.send_frame(id0, f);
  REQUIRE(wait_frames(n1, id1, sent.size(), 240s));
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("bit-error rate 1e-4: " << elapsed << " s for " << 2 * 100 * 1024 << " bytes, wire floor "
                               << 2 * 100 * 1024 * 10.0 / 115200 << " s; retransmissions "
                               << n0.transport.stats().retransmissions << ", echo bit errors "
                               << n0.transport.stats().echo_bit_errors << ", collisions "
                               << n0.transport.stats().collisions);
  CHECK(same_frames(frames_of(n1, id1), sent));
  auto rx = n1.transport.stats().decoder;
  auto tx = n0.transport.stats();
  // Damage happened and was caught, not delivered.
  CHECK(rx.bad_header_crc + rx.bad_payload_crc + tx.decoder.bad_header_crc
          + tx.decoder.bad_payload_crc
        > 0);
  CHECK(tx.retransmissions > 0);
}

TEST_CASE("icmb: a session to an address nobody has ends with a clear reason") {
  bus b{2};
  node n0{options(b, 0)};
  auto id = n0.transport.open_session("0x0042");
  REQUIRE(n0.events.wait([&](auto& l) { return l.reason(id) != nullptr; }, 30s));
  auto reason = *n0.events.inspect([&](auto& l) { return l.reason(id); });
  CHECK(reason.rfind("no answer from 0x0042: ", 0) == 0);
  auto bad = n0.transport.open_session("192.0.2.1:7");
  REQUIRE(n0.events.wait([&](auto& l) { return l.reason(bad) != nullptr; }));
  CHECK(*n0.events.inspect([&](auto& l) { return l.reason(bad); })
        == "malformed icmb address \"192.0.2.1:7\": expected 0x0001 to 0xfffe");
  CHECK(n0.events.inspect([](auto& l) { return l.opens.empty(); }));
}

TEST_CASE("icmb: start names a missing device, a file that is no tty, and a bad baud") {
  temp_dir dir;
  lan_tests::recorder events;
  icmb_options o;
  o.address = 0x10;
  SECTION("missing") {
    o.device = dir.path("nothing");
    icmb_transport t{o};
    CHECK(describe(t.start(events))
          == "icmb: cannot open " + dir.path("nothing") + ": No such file or directory");
  }
  SECTION("not a tty") {
    o.device = dir.path("plain");
    write_bytes(o.device, {1, 2, 3});
    icmb_transport t{o};
    CHECK(describe(t.start(events)) == "icmb: " + o.device + " is not a serial device");
  }
  SECTION("a baud termios does not have") {
    bus b{2};
    o.device = b.link(0);
    o.baud = 12345;
    o.node_label = "n";
    icmb_transport t{o};
    CHECK(describe(t.start(events))
          == "icmb (n): baud 12345 is not a rate the serial driver knows");
  }
  SECTION("a bad address") {
    o.device = dir.path("nothing");
    o.address = 0xffff;
    icmb_transport t{o};
    CHECK(describe(t.start(events))
          == "icmb: address 0xffff is not a node address: use 0x0001 to 0xfffe");
  }
}

TEST_CASE("icmb: a pseudo-terminal has no RS-485 control, which is said once") {
  bus b{2};
  std::vector<std::string> notices;
  auto o = options(b, 0);
  o.warn = [&](std::string_view s) { notices.emplace_back(s); };
  icmb_transport t{o};
  lan_tests::recorder events;
  REQUIRE(!t.start(events));
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].find("no RS-485 direction control") != std::string::npos);
  t.stop();
  // Stopped: calls are harmless, and a restart works.
  t.broadcast({1});
  CHECK(t.counters().dropped_datagrams == 1);
  REQUIRE(!t.start(events));
  t.stop();
}
