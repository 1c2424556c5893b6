// The bounds the ICMB transport keeps on what peers make it spend (session_limits), and a peer
// that floods the bus: its datagrams, opens and stray data cost bounded queues and counts.

#include "tests/transports/icmb_fixture.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace fwrescue::test::icmb_tests;
using icmb::frame;
using icmb::frame_kind;

namespace {

constexpr uint16_t rogue = 0x0099;

/// A frame from the rogue node, a raw writer on the bus.
bytes from_rogue(uint16_t to, frame_kind kind, uint8_t flags, uint8_t conn, uint16_t seq,
                 uint16_t ack, bytes payload = {}) {
  return icmb::encode(frame{to, rogue, kind, flags, conn, seq, ack, std::move(payload), 0});
}

bytes rogue_datagram(uint16_t id, const std::string& text) {
  return from_rogue(icmb::broadcast_address, frame_kind::datagram, 0, 0, id, 1,
                    bytes(text.begin(), text.end()));
}

bytes rogue_open(uint16_t to, uint8_t conn) {
  return from_rogue(to, frame_kind::open, icmb::flag_from_opener, conn, 0x4242, 0);
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

TEST_CASE("icmb limits: a datagram flood stops at the backlog the receiver has not handled") {
  bus b{2};
  auto o = options(b, 0);
  o.limits.max_datagram_backlog = 8;
  node n0{o, false};
  bus_node raw{b.link(1)};
  bytes flood;
  for (uint16_t i = 0; i < 200; ++i) {
    auto d = rogue_datagram(i, "flood " + std::to_string(i));
    flood.insert(flood.end(), d.begin(), d.end());
  }
  raw.send(flood);
  REQUIRE(lan_tests::eventually([&] { return n0.transport.counters().dropped_datagrams == 192; }));
  CHECK(n0.events.inspect([](auto& l) { return l.datagrams.size(); }) == 8);
  // Handled, the backlog takes datagrams again.
  for (int i = 0; i < 8; ++i)
    n0.transport.datagram_consumed();
  raw.send(rogue_datagram(999, "after"));
  REQUIRE(n0.events.wait([](auto& l) { return l.heard("after"); }));
}

TEST_CASE("icmb limits: opens from one peer are bounded, and each costs one answer at most") {
  bus b{3};
  auto o = options(b, 0);
  o.limits.max_inbound_per_source = 3;
  o.limits.max_inbound = 4;
  node n0{o};
  bus_node raw{b.link(1)};
  bytes flood;
  for (int conn = 0; conn < 100; ++conn) {
    auto f = rogue_open(address_of(0), static_cast<uint8_t>(conn));
    flood.insert(flood.end(), f.begin(), f.end());
  }
  raw.send(flood);
  // The rogue does not listen before it talks, so an answer of ours may garble one of its
  // opens; the rest are refused.
  REQUIRE(lan_tests::eventually([&] { return n0.transport.counters().refused_sessions >= 50; }));
  CHECK(inbound_opens(n0) == 3);
  // Another node still gets in; at the total, one that never spoke makes room.
  node n2{options(b, 2)};
  connect(n2, n0, 3);
  auto [id2, id0] = connect(n2, n0, 4);
  CHECK(inbound_opens(n0) == 5);
  n2.transport.send_frame(id2, lan_tests::text("hello"));
  REQUIRE(n0.events.wait([&, id0 = id0](auto& l) { return l.frames[id0].size() == 1; }));
}

TEST_CASE("icmb limits: an inbound session that sends no frame within the handshake is closed") {
  bus b{2};
  auto o = options(b, 0);
  o.limits.handshake = 300ms;
  node n0{o};
  bus_node raw{b.link(1)};
  raw.send(rogue_open(address_of(0), 1));
  REQUIRE(n0.events.wait([](auto& l) { return !l.closes.empty(); }));
  CHECK(n0.events.inspect([](auto& l) { return l.closes.at(0).second; })
        == "no whole frame within 300 ms of opening");
  CHECK(n0.transport.counters().refused_sessions == 1);
}

TEST_CASE("icmb limits: a session on which nothing moves is closed") {
  bus b{2};
  auto o = options(b, 1);
  o.limits.idle = 500ms;
  node n0{options(b, 0)}, n1{o};
  auto [id0, id1] = connect(n0, n1);
  n0.transport.send_frame(id0, lan_tests::text("hello"));
  REQUIRE(n1.events.wait([&, id1 = id1](auto& l) { return l.reason(id1) != nullptr; }));
  CHECK(*n1.events.inspect([&, id1 = id1](auto& l) { return l.reason(id1); })
        == "nothing sent or received for 500 ms");
  CHECK(n1.events.inspect([&, id1 = id1](auto& l) { return l.frames[id1].size(); }) == 1);
}

TEST_CASE("icmb limits: a frame above the inbound limit closes the session at both ends") {
  bus b{2};
  auto o = options(b, 1);
  o.limits.max_inbound_frame = 1000;
  node n0{options(b, 0)}, n1{o};
  auto [id0, id1] = connect(n0, n1);
  n0.transport.send_frame(id0, bytes(1000, 1));
  n0.transport.send_frame(id0, bytes(2000, 2));
  REQUIRE(n1.events.wait([&, id1 = id1](auto& l) { return l.reason(id1) != nullptr; }));
  CHECK(*n1.events.inspect([&, id1 = id1](auto& l) { return l.reason(id1); })
        == "frame of 2000 bytes exceeds the 1000-byte limit");
  CHECK(n1.events.inspect([&, id1 = id1](auto& l) { return l.frames[id1].size(); }) == 1);
  REQUIRE(n0.events.wait([&, id0 = id0](auto& l) { return l.reason(id0) != nullptr; }, 10s));
  CHECK(*n0.events.inspect([&, id0 = id0](auto& l) { return l.reason(id0); })
        == "reset by 0x0011: frame of 2000 bytes exceeds the 1000-byte limit");
}

TEST_CASE("icmb limits: a receiver that does not consume holds its sender back, up to max_queued") {
  bus b{2};
  auto sender = options(b, 0);
  sender.limits.max_queued = 64 * 1024;
  auto receiver = options(b, 1);
  receiver.limits.max_unconsumed = 8 * 1024;
  node n0{sender}, n1{receiver, false};
  auto [id0, id1] = connect(n0, n1);
  // 40 KiB queued, over half the bound: once the bus has taken enough, the sender hears it.
  for (int i = 0; i < 10; ++i)
    n0.transport.send_frame(id0, random_bytes(4096, static_cast<uint64_t>(i)));
  REQUIRE(n0.events.wait([&, id0 = id0](auto& l) { return !l.drained.empty(); }, 20s));
  // The receiver stops taking payloads past its bound, so the sender's queue fills until a
  // frame would pass max_queued and the session closes instead.
  for (int i = 0; i < 40 && n0.events.inspect([](auto& l) { return l.closes.empty(); }); ++i) {
    n0.transport.send_frame(id0, random_bytes(8192, 100 + static_cast<uint64_t>(i)));
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(n0.events.wait([&, id0 = id0](auto& l) { return l.reason(id0) != nullptr; }));
  CHECK(n0.events.inspect([&, id0 = id0](auto& l) { return *l.reason(id0); })
          .rfind("peer does not read: ", 0)
        == 0);
  auto delivered = n1.events.inspect([&, id1 = id1](auto& l) {
    size_t n = 0;
    for (auto& f : l.frames[id1])
      n += f.size();
    return n;
  });
  CHECK(delivered <= 8 * 1024 + 8192);
}
