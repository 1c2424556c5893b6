#include "tests/transports/lan_fixture.hpp"

using namespace fwrescue;
using namespace fwrescue::test::lan_tests;
using namespace std::chrono_literals;

TEST_CASE("lan: the link properties are those of a LAN") {
  lan_transport t{options(47710)};
  auto p = t.properties();
  CHECK(p.kind == "lan");
  CHECK(p.max_datagram == 1400);
  CHECK(p.max_frame == 2097152);
  CHECK(p.nominal_rate_bps == 1'000'000'000);
  CHECK(p.latency_us == 100);
  CHECK(t.session_address().empty());
}

TEST_CASE("lan: nodes sharing a discovery port hear a broadcast, the sender not its own") {
  auto port = free_port(SOCK_DGRAM);
  // Multicast, and a broadcast address for links without multicast.
  auto group = GENERATE(as<std::string>{}, "239.255.77.1", "127.255.255.255");
  INFO(group);
  node a{options(port, group)}, b{options(port, group)}, c{options(port, group)};
  a.transport.broadcast(text("ping"));
  REQUIRE(b.events.wait([](auto& l) { return l.heard("ping"); }));
  REQUIRE(c.events.wait([](auto& l) { return l.heard("ping"); }));
  c.transport.broadcast(text("pong"));
  REQUIRE(a.events.wait([](auto& l) { return l.heard("pong"); }));
  // a's own "ping" reached a's socket before "pong" was even sent, and was dropped there.
  CHECK(a.events.inspect([](auto& l) { return l.payloads(); }) == std::vector<std::string>{"pong"});
  auto from = b.events.inspect([](auto& l) { return l.datagrams.at(0).first; });
  CHECK(from.rfind("127.0.0.1:", 0) == 0);
  CHECK(from != a.transport.session_address());
}

TEST_CASE("lan: a reply sent to a datagram's sender reaches that node alone") {
  auto port = free_port(SOCK_DGRAM);
  node a{options(port)}, b{options(port)}, c{options(port)};
  a.transport.broadcast(text("request"));
  REQUIRE(b.events.wait([](auto& l) { return l.heard("request"); }));
  auto from = b.events.inspect([](auto& l) { return l.datagrams.at(0).first; });
  b.transport.send_datagram(from, text("offer"));
  REQUIRE(a.events.wait([](auto& l) { return l.heard("offer"); }));
  // And back again, to the address the offer came from.
  auto b_from = a.events.inspect([](auto& l) { return l.datagrams.at(0).first; });
  a.transport.send_datagram(b_from, text("accept"));
  REQUIRE(b.events.wait([](auto& l) { return l.heard("accept"); }));
  // c shares the discovery port but must not see the unicast exchange: once a later
  // broadcast has arrived, everything sent before it would have too.
  a.transport.broadcast(text("later"));
  REQUIRE(c.events.wait([](auto& l) { return l.heard("later"); }));
  CHECK(c.events.inspect([](auto& l) { return l.payloads(); })
        == std::vector<std::string>{"request", "later"});
}

TEST_CASE("lan: a static peer on another discovery port gets every broadcast by unicast") {
  auto port = free_port(SOCK_DGRAM);
  auto other_port = free_port(SOCK_DGRAM);
  node far{options(other_port)};
  auto o = options(port);
  o.static_peers = {"127.0.0.1:" + std::to_string(other_port)};
  node a{o}, near{options(port)};
  a.transport.broadcast(text("hello"));
  REQUIRE(far.events.wait([](auto& l) { return l.heard("hello"); }));
  REQUIRE(near.events.wait([](auto& l) { return l.heard("hello"); }));
}

TEST_CASE("lan: datagrams above 1400 bytes are dropped and counted") {
  auto port = free_port(SOCK_DGRAM);
  node a{options(port)}, b{options(port)};
  a.transport.broadcast(bytes(1401, 1));
  a.transport.send_datagram("127.0.0.1:" + std::to_string(port), bytes(1401, 2));
  CHECK(a.transport.dropped_datagrams() == 2);
  // A foreign sender's oversized datagram is dropped on receipt; the one after it arrives.
  raw_socket raw{SOCK_DGRAM};
  raw.connect_to("127.0.0.1:" + std::to_string(port));
  raw.send_all(bytes(1401, 3));
  a.transport.broadcast(bytes(1400, 4));
  REQUIRE(b.events.wait([](auto& l) { return !l.datagrams.empty(); }));
  CHECK(b.events.inspect([](auto& l) { return l.datagrams.at(0).second; }) == bytes(1400, 4));
  // SO_REUSEPORT hands a unicast datagram to one of the sockets sharing the port.
  CHECK(eventually(
    [&] { return a.transport.dropped_datagrams() + b.transport.dropped_datagrams() == 3; }));
}

TEST_CASE("lan: a session carries frames in order both ways and closes with reasons") {
  // Everything is queued at once, more than the default bound on a session's queue.
  auto roomy = [](lan_options o) {
    o.limits.max_queued = size_t{64} << 20;
    return o;
  };
  node a{roomy(options(free_port(SOCK_DGRAM)))}, b{roomy(options(free_port(SOCK_DGRAM)))};
  auto [ida, idb] = connect(a, b);
  constexpr uint32_t small_count = 10'000;
  auto big = test::random_bytes(1024 * 1024, 7);
  auto biggest = test::random_bytes(2 * 1024 * 1024, 8); // exactly the limit
  // Both directions at once, so neither side may block on a full socket.
  for (auto* side : {&a, &b}) {
    auto id = side == &a ? ida : idb;
    side->transport.send_frame(id, big);
    for (uint32_t i = 0; i < small_count; ++i)
      side->transport.send_frame(id, small_frame(i));
    side->transport.send_frame(id, biggest);
    side->transport.send_frame(id, {});
  }
  auto check_received = [&](node& receiver, session_id id) {
    REQUIRE(
      receiver.events.wait([&](auto& l) { return l.frames[id].size() == small_count + 3; }, 30s));
    receiver.events.inspect([&](auto& l) {
      const auto& got = l.frames[id];
      CHECK(got.front() == big);
      for (uint32_t i = 0; i < small_count; ++i)
        if (got[1 + i] != small_frame(i))
          FAIL("small frame " << i << " differs");
      CHECK(got[small_count + 1] == biggest);
      CHECK(got.back().empty());
      return 0;
    });
  };
  check_received(b, idb);
  check_received(a, ida);
  a.transport.close_session(ida);
  REQUIRE(a.events.wait([&](auto& l) { return l.reason(ida) != nullptr; }));
  REQUIRE(b.events.wait([&](auto& l) { return l.reason(idb) != nullptr; }));
  CHECK(*a.events.inspect([&](auto& l) { return l.reason(ida); }) == "closed locally");
  CHECK(*b.events.inspect([&](auto& l) { return l.reason(idb); }) == "closed by peer");
  // The id is dead: more calls on it are ignored.
  a.transport.send_frame(ida, text("late"));
  a.transport.close_session(ida);
  b.transport.close_session(idb);
}

TEST_CASE("lan: a session leaves from the node's interface address, which the donor sees") {
  // Two nodes of one host, each with an address of its own in 127.0.0.0/8, as each BMC of a
  // rack has: the accepting side must see the opener's address, not the one routing picks.
  auto port = free_port(SOCK_DGRAM);
  auto oa = options(port);
  oa.interface_address = "127.0.0.7";
  auto ob = options(port);
  ob.interface_address = "127.0.0.8";
  node a{oa}, b{ob};
  CHECK(b.transport.session_address().find("127.0.0.8:") != std::string::npos);
  auto id = a.transport.open_session(b.transport.session_address());
  REQUIRE(b.events.wait([](auto& l) { return !l.opens.empty(); }));
  auto theirs = b.events.inspect([](auto& l) { return l.opens.at(0); });
  CHECK(theirs.inbound);
  CHECK(theirs.peer.rfind("127.0.0.7:", 0) == 0);
  a.transport.close_session(id);
}

TEST_CASE("lan: frames queued before close_session still reach the peer") {
  node a{options(free_port(SOCK_DGRAM))}, b{options(free_port(SOCK_DGRAM))};
  auto [ida, idb] = connect(a, b);
  auto big = test::random_bytes(1024 * 1024, 9);
  a.transport.send_frame(ida, big);
  a.transport.send_frame(ida, text("done"));
  a.transport.close_session(ida);
  REQUIRE(b.events.wait([&](auto& l) { return l.reason(idb) != nullptr; }));
  b.events.inspect([&](auto& l) {
    CHECK(*l.reason(idb) == "closed by peer");
    REQUIRE(l.frames[idb].size() == 2);
    CHECK(l.frames[idb][0] == big);
    CHECK(l.frames[idb][1] == text("done"));
    return 0;
  });
}

TEST_CASE("lan: the wire format is a 4-byte little-endian length and the payload") {
  node a{options(free_port(SOCK_DGRAM))};
  raw_socket raw{SOCK_STREAM};
  raw.connect_to(a.transport.session_address());
  REQUIRE(a.events.wait([](auto& l) { return !l.opens.empty(); }));
  auto id = a.events.inspect([](auto& l) { return l.opens.at(0).id; });
  // Written a byte at a time, a frame still arrives whole.
  int one = 1;
  ::setsockopt(raw.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  bytes wire = length_prefix(3);
  for (auto c : text("abc"))
    wire.push_back(c);
  for (auto byte : wire)
    raw.send_all({byte});
  REQUIRE(a.events.wait([&](auto& l) { return l.frames[id].size() == 1; }));
  CHECK(a.events.inspect([&](auto& l) { return l.frames[id][0]; }) == text("abc"));
  a.transport.send_frame(id, text("xyz"));
  bytes got(7);
  REQUIRE(::recv(raw.fd, got.data(), got.size(), MSG_WAITALL) == 7);
  CHECK(got == bytes{3, 0, 0, 0, 'x', 'y', 'z'});
}

TEST_CASE("lan: a length prefix above 2 MiB closes the session") {
  node a{options(free_port(SOCK_DGRAM))};
  raw_socket raw{SOCK_STREAM};
  raw.connect_to(a.transport.session_address());
  REQUIRE(a.events.wait([](auto& l) { return !l.opens.empty(); }));
  auto id = a.events.inspect([](auto& l) { return l.opens.at(0).id; });
  raw.send_all(length_prefix(2097153));
  REQUIRE(a.events.wait([&](auto& l) { return l.reason(id) != nullptr; }));
  CHECK(*a.events.inspect([&](auto& l) { return l.reason(id); })
        == "frame of 2097153 bytes exceeds the 2097152-byte limit");
  uint8_t byte = 0;
  CHECK(::recv(raw.fd, &byte, 1, 0) <= 0); // the transport closed its end
}

TEST_CASE("lan: sending a frame above 2 MiB closes the session on both sides") {
  node a{options(free_port(SOCK_DGRAM))}, b{options(free_port(SOCK_DGRAM))};
  auto [ida, idb] = connect(a, b);
  a.transport.send_frame(ida, bytes(2097153));
  REQUIRE(a.events.wait([&](auto& l) { return l.reason(ida) != nullptr; }));
  CHECK(*a.events.inspect([&](auto& l) { return l.reason(ida); })
        == "frame of 2097153 bytes exceeds the 2097152-byte limit");
  REQUIRE(b.events.wait([&](auto& l) { return l.reason(idb) != nullptr; }));
  CHECK(*b.events.inspect([&](auto& l) { return l.reason(idb); }) == "closed by peer");
}

TEST_CASE("lan: connecting to a closed port reports connection refused") {
  // Bound but not listening: connections to it are refused, and nobody else can take it.
  raw_socket holder{SOCK_STREAM};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(holder.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(holder.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  auto target = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  node a{options(free_port(SOCK_DGRAM))};
  auto id = a.transport.open_session(target);
  REQUIRE(a.events.wait([&](auto& l) { return l.reason(id) != nullptr; }));
  CHECK(*a.events.inspect([&](auto& l) { return l.reason(id); })
        == "connect to " + target + ": Connection refused");
  CHECK(a.events.inspect([](auto& l) { return l.opens.empty(); }));
}

TEST_CASE("lan: a malformed session address is reported, naming it") {
  node a{options(free_port(SOCK_DGRAM))};
  auto address = GENERATE(as<std::string>{}, "nonsense", "127.0.0.1", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:080", "127.0.0.1:+80", "127.1:80",
                          " 127.0.0.1:80", "127.0.0.1:80 ", "[::1]:80", "host.example:80", "");
  auto id = a.transport.open_session(address);
  REQUIRE(a.events.wait([&](auto& l) { return l.reason(id) != nullptr; }));
  auto reason = *a.events.inspect([&](auto& l) { return l.reason(id); });
  CHECK_THAT(reason, Catch::Contains("bad address \"" + address + "\""));
}

TEST_CASE("lan: stop() with sessions open returns, and later calls are harmless") {
  node a{options(free_port(SOCK_DGRAM))}, b{options(free_port(SOCK_DGRAM))};
  auto [ida, idb] = connect(a, b);
  for (int i = 0; i < 8; ++i)
    a.transport.send_frame(ida, bytes(1024 * 1024, 5)); // still being written at stop()
  a.transport.stop();
  auto before = a.events.inspect([](auto& l) { return l.event_count(); });
  REQUIRE(b.events.wait([&](auto& l) { return l.reason(idb) != nullptr; }));
  a.transport.stop();
  a.transport.broadcast(text("x"));
  a.transport.send_datagram(b.transport.session_address(), text("x"));
  a.transport.send_frame(ida, text("x"));
  a.transport.close_session(ida);
  a.transport.open_session(b.transport.session_address());
  CHECK(a.transport.session_address().empty());
  CHECK(a.transport.dropped_datagrams() == 2);
  CHECK(a.events.inspect([](auto& l) { return l.event_count(); }) == before);
  // A stopped transport starts again.
  REQUIRE(!a.transport.start(a.events));
  CHECK(!a.transport.session_address().empty());
}

TEST_CASE("lan: stop() from an event handler does not wait for itself") {
  struct stopping_recorder : recorder {
    lan_transport* transport = nullptr;
    void on_datagram(const std::string& from, bytes data) override {
      transport->stop();
      recorder::on_datagram(from, std::move(data));
    }
  };
  auto port = free_port(SOCK_DGRAM);
  node a{options(port)};
  stopping_recorder events;
  lan_transport b{options(port)};
  events.transport = &b;
  REQUIRE(!b.start(events));
  a.transport.broadcast(text("one"));
  REQUIRE(events.wait([](auto& l) { return l.heard("one"); }));
  CHECK(b.session_address().empty());
  b.stop(); // joins the thread that stopped itself
}

TEST_CASE("lan: start() errors name the address and the reason") {
  SECTION("discovery port taken by a socket that does not share it") {
    raw_socket holder{SOCK_DGRAM};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    REQUIRE(::bind(holder.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(holder.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    auto port = ntohs(addr.sin_port);
    lan_transport t{options(port)};
    recorder events;
    auto err = t.start(events);
    CHECK(has_code(err, errc::io_failure));
    CHECK(describe(err)
          == "lan: cannot bind UDP 0.0.0.0:" + std::to_string(port) + ": Address already in use");
  }
  SECTION("session port taken, with the node's label") {
    node first{options(free_port(SOCK_DGRAM))};
    auto o = options(free_port(SOCK_DGRAM));
    auto taken = first.transport.session_address();
    o.session_port = static_cast<uint16_t>(std::stoi(taken.substr(taken.rfind(':') + 1)));
    o.node_label = "node-b";
    lan_transport t{o};
    recorder events;
    CHECK(describe(t.start(events))
          == "lan (node-b): cannot bind TCP " + taken + ": Address already in use");
  }
  SECTION("malformed options") {
    auto o = options(free_port(SOCK_DGRAM));
    std::string bad;
    SECTION("group") {
      o.group = bad = "239.255.77";
    }
    SECTION("interface") {
      o.interface_address = bad = "localhost";
    }
    SECTION("wildcard interface") {
      o.interface_address = bad = "0.0.0.0";
    }
    SECTION("static peer") {
      o.static_peers = {bad = "127.0.0.1"};
    }
    SECTION("ttl") {
      o.multicast_ttl = 256;
      bad = "256";
    }
    SECTION("discovery port") {
      o.discovery_port = 0;
      bad = "port 0";
    }
    lan_transport t{o};
    recorder events;
    auto err = t.start(events);
    CHECK(has_code(err, errc::invalid_argument));
    CHECK_THAT(describe(err), Catch::StartsWith("lan: ") && Catch::Contains(bad));
  }
  SECTION("started twice") {
    node a{options(free_port(SOCK_DGRAM))};
    CHECK(describe(a.transport.start(a.events)) == "lan: already started");
  }
}
