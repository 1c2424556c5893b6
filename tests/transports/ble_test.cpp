// The BLE transport over its emulation: datagrams to peers, sessions carrying large frames,
// the credits stalling a sender whose receiver does not read, the rate as a lower bound, and
// the errors a person sees; and the real path on a kernel without Bluetooth.

#include "tests/transports/ble_fixture.hpp"

#include <csignal>
#include <filesystem>
#include <sys/socket.h>
#include <sys/wait.h>

using namespace fwrescue;
using namespace fwrescue::test;
using namespace fwrescue::test::ble_tests;
using namespace std::chrono_literals;

namespace {

const std::string addr_a = "0A:00:00:00:00:01";
const std::string addr_b = "0A:00:00:00:00:02";
const std::string addr_c = "0a:00:00:00:00:03"; // lower case on input

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

TEST_CASE("ble: properties name the link and its emulated rate") {
  temp_dir dir;
  ble_transport t{options(addr_a, dir, 250000)};
  auto p = t.properties();
  CHECK(p.kind == "ble");
  CHECK(p.max_datagram == 1400);
  CHECK(p.max_frame >= 128 * 1024);
  CHECK(p.nominal_rate_bps == 250000);
  ble_options real;
  CHECK(ble_transport{real}.properties().nominal_rate_bps == 500000);
}

TEST_CASE("ble: a broadcast reaches each peer, and an answer comes back to its sender") {
  temp_dir dir;
  auto oa = options(addr_a, dir);
  oa.peers = {addr_b, addr_c};
  node a{oa}, b{options(addr_b, dir)}, c{options(addr_c, dir)};
  CHECK(c.transport.session_address() == "0A:00:00:00:00:03");
  a.transport.broadcast(text("who has bios 2.7?"));
  for (auto* n : {&b, &c}) {
    REQUIRE(n->events.wait([](auto& l) { return l.heard("who has bios 2.7?"); }));
    CHECK(n->events.inspect([](auto& l) { return l.datagrams.at(0).first; }) == addr_a);
  }
  b.transport.send_datagram(addr_a, text("b has it"));
  c.transport.send_datagram("0a:00:00:00:00:01", text("c has it"));
  REQUIRE(a.events.wait([](auto& l) { return l.heard("b has it") && l.heard("c has it"); }));
  auto from = a.events.inspect([](auto& l) { return l.datagrams; });
  for (const auto& [who, payload] : from)
    CHECK(who
          == (std::string(payload.begin(), payload.end()) == "b has it" ? addr_b
                                                                        : "0A:00:00:00:00:03"));
  // Datagrams ride channels, never sessions.
  CHECK(a.events.inspect([](auto& l) { return l.opens.size(); }) == 0);
  CHECK(b.events.inspect([](auto& l) { return l.opens.size(); }) == 0);
  // Above the limit: dropped and counted.
  a.transport.broadcast(bytes(1401, 1));
  CHECK(a.transport.counters().dropped_datagrams == 1);
}

TEST_CASE("ble: a session carries several 100 KiB frames byte-exact, both ways") {
  temp_dir dir;
  node a{options(addr_a, dir)}, b{options(addr_b, dir)};
  auto [ida, idb] = connect(a, b);
  std::vector<bytes> frames;
  for (uint64_t i = 0; i < 4; ++i)
    frames.push_back(random_bytes(100 * 1024 + i, i));
  for (const auto& f : frames)
    a.transport.send_frame(ida, f);
  b.transport.send_frame(idb, frames[1]);
  REQUIRE(b.events.wait([&](auto& l) { return l.frames[idb].size() == 4; }, 30s));
  CHECK(b.events.inspect([&](auto& l) { return l.frames[idb]; }) == frames);
  REQUIRE(a.events.wait([&](auto& l) { return l.frames[ida].size() == 1; }, 30s));
  CHECK(a.events.inspect([&](auto& l) { return l.frames[ida].at(0); }) == frames[1]);
  REQUIRE(eventually([&] { return a.transport.queued(ida) == 0; }));
  a.transport.close_session(ida);
  REQUIRE(b.events.wait([&](auto& l) { return l.reason(idb) != nullptr; }));
  CHECK(*b.events.inspect([&](auto& l) { return l.reason(idb); }) == "closed by peer");
  CHECK(*a.events.inspect([&](auto& l) { return l.reason(ida); }) == "closed locally");
}

TEST_CASE("ble: a receiver that stops consuming stalls the sender through credits, and the "
          "sender drains when it resumes") {
  temp_dir dir;
  auto oa = options(addr_a, dir);
  oa.limits.max_queued = 256 * 1024;
  auto ob = options(addr_b, dir);
  ob.limits.max_unconsumed = 16 * 1024;
  node a{oa}, b{ob, false};
  auto [ida, idb] = connect(a, b);
  constexpr uint32_t count = 40;
  for (uint32_t i = 0; i < count; ++i)
    a.transport.send_frame(ida, small_frame(i));
  // b reads up to its bound and stops; then its credits stop going back. The stream is taken
  // as stalled once neither side moves for 300 ms, however long a loaded machine takes to get
  // there; then it must stay still.
  REQUIRE(b.events.wait([&](auto& l) { return l.frames[idb].size() >= 4; }));
  size_t delivered = 0;
  size_t stalled = 0;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    auto d = b.events.inspect([&](auto& l) { return l.frames[idb].size(); });
    auto q = a.transport.queued(ida);
    if (d == delivered && q == stalled)
      break;
    delivered = d;
    stalled = q;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(300ms);
  }
  CHECK(delivered < count);
  CHECK(stalled >= (count - delivered - 2) * 4096);
  std::this_thread::sleep_for(300ms);
  CHECK(b.events.inspect([&](auto& l) { return l.frames[idb].size(); }) == delivered);
  CHECK(a.transport.queued(ida) == stalled);
  CHECK(a.events.inspect([&](auto& l) { return l.reason(ida) == nullptr; }));
  CHECK(a.events.inspect([](auto& l) { return l.drained.empty(); }));
  // The receiver catches up, and keeps up.
  b.events.consumer = &b.transport;
  b.transport.frame_consumed(idb, delivered * 4096);
  REQUIRE(b.events.wait([&](auto& l) { return l.frames[idb].size() == count; }, 10s));
  auto got = b.events.inspect([&](auto& l) { return l.frames[idb]; });
  for (uint32_t i = 0; i < count; ++i)
    CHECK(got[i] == small_frame(i));
  REQUIRE(a.events.wait([&](auto& l) { return !l.drained.empty(); }));
  CHECK(a.events.inspect([](auto& l) { return l.drained.at(0); }) == ida);
  CHECK(eventually([&] { return a.transport.queued(ida) == 0; }));
  CHECK(a.events.inspect([&](auto& l) { return l.reason(ida) == nullptr; }));
}

TEST_CASE("ble: the emulated rate holds as a lower bound, and a bulk stream's efficiency") {
  temp_dir dir;
  constexpr uint64_t rate = 500000;
  node a{options(addr_a, dir, rate)}, b{options(addr_b, dir, rate)};
  auto [ida, idb] = connect(a, b);
  constexpr size_t frame = 32 * 1024;
  constexpr size_t frames = 8;
  auto start = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < frames; ++i)
    a.transport.send_frame(ida, small_frame(i, frame));
  REQUIRE(b.events.wait([&](auto& l) { return l.frames[idb].size() == frames; }, 60s));
  auto elapsed = seconds_since(start);
  auto payload = double(frame * frames);
  auto floor = payload * 8 / rate;
  CHECK(elapsed >= floor);
  WARN("ble bulk stream at " << rate << " bit/s: " << payload << " payload bytes in " << elapsed
                             << " s; floor " << floor << " s; efficiency " << floor / elapsed
                             << " (" << elapsed / floor << "x the floor)");
}

TEST_CASE("ble: a peer that is not listening gives a clear reason") {
  temp_dir dir;
  node a{options(addr_a, dir)};
  auto id = a.transport.open_session("0A:00:00:00:00:09");
  REQUIRE(a.events.wait([&](auto& l) { return l.reason(id) != nullptr; }));
  CHECK(*a.events.inspect([&](auto& l) { return l.reason(id); })
        == "connect to 0A:00:00:00:00:09: no node listens there (" + dir.path("")
             + "0A:00:00:00:00:09.sock: No such file or directory)");
}

TEST_CASE("ble: a bad address gives its line") {
  temp_dir dir;
  node a{options(addr_a, dir)};
  auto id = a.transport.open_session("0A:00:00:00:00");
  REQUIRE(a.events.wait([&](auto& l) { return l.reason(id) != nullptr; }));
  CHECK(*a.events.inspect([&](auto& l) { return l.reason(id); })
        == "session address \"0A:00:00:00:00\" is not a Bluetooth device address "
           "(\"AA:BB:CC:DD:EE:FF\")");
  auto o = options(addr_b, dir);
  o.peers = {addr_a, "0A:00:00:00:00:0X"};
  o.node_label = "node-b";
  recorder events;
  ble_transport b{o};
  CHECK(describe(b.start(events))
        == "ble (node-b): peer address \"0A:00:00:00:00:0X\" is not a Bluetooth device address "
           "(\"AA:BB:CC:DD:EE:FF\")");
  o.peers.clear();
  o.address = "nonsense";
  CHECK(describe(ble_transport{o}.start(events))
        == "ble (node-b): adapter address \"nonsense\" is not a Bluetooth device address "
           "(\"AA:BB:CC:DD:EE:FF\")");
  o.address = addr_b;
  o.psm = 0x1001;
  CHECK(describe(ble_transport{o}.start(events))
        == "ble (node-b): PSM 0x1001 is outside the LE dynamic range 0x0080..0x00FF");
}

TEST_CASE("ble: calls before start and after stop are harmless, and it restarts") {
  temp_dir dir;
  recorder events;
  ble_transport a{options(addr_a, dir)};
  a.broadcast(text("x"));
  a.send_frame(a.open_session(addr_b), text("y"));
  CHECK(a.counters().dropped_datagrams == 1);
  CHECK(a.session_address().empty());
  REQUIRE(!a.start(events));
  CHECK(a.session_address() == addr_a);
  a.stop();
  REQUIRE(!a.start(events));
  node b{options(addr_b, dir)};
  auto id = a.open_session(addr_b);
  REQUIRE(events.wait([&](auto& l) { return !l.opens.empty(); }));
  CHECK(events.inspect([](auto& l) { return l.opens.at(0).id; }) == id);
  a.stop();
}

TEST_CASE("ble: the real path fails at start on a kernel without Bluetooth, with its line") {
  int probe = ::socket(AF_BLUETOOTH, SOCK_SEQPACKET, 1 /* BTPROTO_L2CAP */);
  if (probe >= 0) {
    ::close(probe);
    WARN("this kernel has Bluetooth: the failure this test checks cannot happen here");
    return;
  }
  REQUIRE(errno == EAFNOSUPPORT);
  recorder events;
  ble_options o;
  o.peers = {addr_b};
  ble_transport t{o};
  CHECK(describe(t.start(events))
        == "ble: this kernel has no Bluetooth support (socket: Address family not supported by "
           "protocol)");
  CHECK(t.session_address().empty());
  t.broadcast(text("x"));
  CHECK(t.counters().dropped_datagrams == 1);
  // Nothing else of the node is affected: an emulated transport beside it runs.
  temp_dir dir;
  node a{options(addr_a, dir)};
  CHECK(a.transport.session_address() == addr_a);
}

TEST_CASE("ble: nodes in separate processes talk over the emulation's directory") {
  temp_dir dir;
  auto pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child is a node that echoes every frame and answers every datagram, for 20 s at most.
    struct echo : recorder {
      ble_transport* t = nullptr;
      void on_frame(session_id id, bytes frame) override {
        t->frame_consumed(id, frame.size());
        t->send_frame(id, std::move(frame));
      }
      void on_datagram(const std::string& from, bytes data) override {
        t->datagram_consumed();
        t->send_datagram(from, std::move(data));
      }
    } events;
    ble_transport t{options(addr_b, dir)};
    events.t = &t;
    if (t.start(events))
      ::_exit(1);
    std::this_thread::sleep_for(20s);
    ::_exit(0);
  }
  auto oa = options(addr_a, dir);
  oa.peers = {addr_b};
  node a{oa};
  // The child's socket appears once it has started.
  REQUIRE(eventually([&] { return std::filesystem::exists(dir.path(addr_b + ".sock")); }));
  a.transport.broadcast(text("ping"));
  REQUIRE(a.events.wait([](auto& l) { return l.heard("ping"); }));
  auto id = a.transport.open_session(addr_b);
  auto frame = random_bytes(50 * 1024, 7);
  a.transport.send_frame(id, frame);
  REQUIRE(a.events.wait([&](auto& l) { return l.frames[id].size() == 1; }, 10s));
  CHECK(a.events.inspect([&](auto& l) { return l.frames[id].at(0); }) == frame);
  ::kill(pid, SIGKILL); // not SIGTERM: the child carries the test framework's handlers
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
}
