// The link set: several links run as one transport, addresses typed by link.
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "tests/fakes/fake_transport.hpp"
#include "transports/link_set.hpp"

using namespace fwrescue;
using fwrescue::test::fake_transport;

namespace {

/// Records what the set delivers.
struct recorder : transport_events {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> datagrams;
  std::vector<std::pair<session_id, std::string>> opened;
  std::vector<std::pair<session_id, std::vector<uint8_t>>> frames;
  std::vector<std::pair<session_id, std::string>> closed;
  std::vector<session_id> drained;

  void on_datagram(const std::string& from, std::vector<uint8_t> bytes) override {
    datagrams.emplace_back(from, std::move(bytes));
  }
  void on_session_opened(session_id id, const std::string& peer, bool) override {
    opened.emplace_back(id, peer);
  }
  void on_frame(session_id id, std::vector<uint8_t> bytes) override {
    frames.emplace_back(id, std::move(bytes));
  }
  void on_session_closed(session_id id, const std::string& reason) override {
    closed.emplace_back(id, reason);
  }
  void on_session_drained(session_id id) override {
    drained.push_back(id);
  }
};

std::shared_ptr<fake_transport> fake(const std::string& kind, uint64_t rate,
                                     const std::string& address) {
  auto props = fake_transport::default_properties();
  props.kind = kind;
  props.nominal_rate_bps = rate;
  return std::make_shared<fake_transport>(props, address);
}

struct two_links {
  std::shared_ptr<fake_transport> lan = fake("lan", 1'000'000'000, "192.0.2.1:47711");
  std::shared_ptr<fake_transport> icmb = fake("icmb", 19200, "0x0012");
  std::vector<std::string> warnings;
  link_set set{{lan, icmb}, [this](std::string_view w) { warnings.emplace_back(w); }};
  recorder events;
};

} // namespace

TEST_CASE("addresses carry their link's kind, and answers go back over the same link") {
  two_links t;
  REQUIRE(!t.set.start(t.events));
  CHECK(t.set.session_address() == "lan:192.0.2.1:47711");
  t.icmb->deliver_datagram("0x0031", {1, 2});
  REQUIRE(t.events.datagrams.size() == 1);
  CHECK(t.events.datagrams[0].first == "icmb:0x0031");
  CHECK(t.set.session_address_for("icmb:0x0031") == "icmb:0x0012");
  CHECK(t.set.address_properties("icmb:0x0031").nominal_rate_bps == 19200);
  t.set.send_datagram("icmb:0x0031", {3});
  REQUIRE(t.icmb->datagrams().size() == 1);
  CHECK(t.icmb->datagrams()[0].to == "0x0031");
  CHECK(t.lan->datagrams().empty());
  t.set.datagram_consumed_from("icmb:0x0031");
  CHECK(t.icmb->datagrams_consumed() == 1);
  CHECK(t.lan->datagrams_consumed() == 0);
}

TEST_CASE("an address without a link's name is a LAN address, as older nodes wrote them") {
  two_links t;
  REQUIRE(!t.set.start(t.events));
  auto id = t.set.open_session("192.0.2.9:47711");
  REQUIRE(t.lan->opened_sessions().size() == 1);
  CHECK(t.lan->opened_sessions()[0].address == "192.0.2.9:47711");
  CHECK(t.set.session_properties(id).kind == "lan");
  t.set.send_datagram("192.0.2.9:47710", {1});
  REQUIRE(t.lan->datagrams().size() == 1);
  CHECK(t.lan->datagrams()[0].to == "192.0.2.9:47710");
}

TEST_CASE("a broadcast goes out on every link") {
  two_links t;
  REQUIRE(!t.set.start(t.events));
  t.set.broadcast({9, 9});
  CHECK(t.lan->broadcasts().size() == 1);
  CHECK(t.icmb->broadcasts().size() == 1);
}

TEST_CASE("a session's id names its link both ways") {
  two_links t;
  REQUIRE(!t.set.start(t.events));
  auto on_lan = t.set.open_session("lan:192.0.2.9:47711");
  auto on_icmb = t.set.open_session("icmb:0x0031");
  CHECK(on_lan != on_icmb);
  REQUIRE(t.icmb->opened_sessions().size() == 1);
  CHECK(t.icmb->opened_sessions()[0].address == "0x0031");
  auto local = t.icmb->opened_sessions()[0].id;
  t.icmb->accept_open(local);
  REQUIRE(t.events.opened.size() == 1);
  CHECK(t.events.opened[0].first == on_icmb);
  CHECK(t.events.opened[0].second == "icmb:0x0031");
  t.set.send_frame(on_icmb, {7});
  REQUIRE(t.icmb->frames().size() == 1);
  CHECK(t.icmb->frames()[0].id == local);
  CHECK(t.lan->frames().empty());
  t.icmb->deliver_frame(local, {8});
  REQUIRE(t.events.frames.size() == 1);
  CHECK(t.events.frames[0].first == on_icmb);
  CHECK(t.set.session_properties(on_icmb).kind == "icmb");
  CHECK(t.set.session_properties(on_lan).kind == "lan");
  t.set.close_session(on_icmb);
  CHECK(t.icmb->closed_sessions() == std::vector<session_id>{local});
}

TEST_CASE("an address no link takes ends its session at once, with the reason") {
  two_links t;
  REQUIRE(!t.set.start(t.events));
  auto id = t.set.open_session("ble:AA:BB:CC:DD:EE:FF");
  auto nameless = t.set.open_session("nowhere");
  REQUIRE(t.events.closed.size() == 2);
  CHECK(t.events.closed[0].first == id);
  CHECK(t.events.closed[0].second == "no ble link is up on this node");
  CHECK(t.events.closed[1].first == nameless);
  CHECK(t.lan->opened_sessions().empty());
  // Their ids belong to no link: nothing reaches one.
  t.set.send_frame(id, {1});
  CHECK(t.lan->frames().empty());
  CHECK(t.icmb->frames().empty());
}

TEST_CASE("a link that cannot start is left out with one warning; the others run") {
  two_links t;
  t.icmb->fail_start(make_error(errc::io_failure, "icmb: cannot open /dev/ttyX: No such file"));
  REQUIRE(!t.set.start(t.events));
  REQUIRE(t.warnings.size() == 1);
  CHECK(t.warnings[0] == "link icmb is down, the node runs without it: icmb: cannot open "
                         "/dev/ttyX: No such file");
  t.set.broadcast({1});
  CHECK(t.lan->broadcasts().size() == 1);
  CHECK(t.icmb->broadcasts().empty());
  auto links = t.set.links();
  REQUIRE(links.size() == 2);
  CHECK(links[0].up);
  CHECK(!links[1].up);
  CHECK(links[1].error.find("/dev/ttyX") != std::string::npos);
  // Properties are those of the links that run.
  CHECK(t.set.properties().slowest_rate_bps == 1'000'000'000);
}

TEST_CASE("with no link up the set does not start") {
  two_links t;
  t.lan->fail_start(make_error(errc::io_failure, "lan: cannot bind"));
  t.icmb->fail_start(make_error(errc::io_failure, "icmb: cannot open"));
  auto err = t.set.start(t.events);
  REQUIRE(err);
  CHECK(describe(err) == "no link could start: lan: cannot bind; icmb: cannot open");
}

TEST_CASE("the set's properties name the fastest and the slowest link") {
  two_links t;
  REQUIRE(!t.set.start(t.events));
  auto p = t.set.properties();
  CHECK(p.nominal_rate_bps == 1'000'000'000);
  CHECK(p.slowest_rate_bps == 19200);
}
