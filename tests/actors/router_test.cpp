#include "tests/actors/actor_fixture.hpp"

#include "actors/router.hpp"
#include "common/error.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace std::chrono_literals;

namespace {

/// The router behind the daemon's transport bridge, with recorders as donor and discovery.
struct router_fixture : actor_fixture {
  std::shared_ptr<mailbox_log> donor = record(roles::donor);
  std::shared_ptr<mailbox_log> discovery = record(roles::discovery);
  caf::actor rt = spawn(router);
  transport_bridge bridge{sys, link};
  test_image img = image();

  router_fixture() {
    put_role(roles::router, rt); // the bridge finds the router by role
    REQUIRE_FALSE(link->start(bridge));
    run();
  }

  /// `m` encoded as a node speaking protocol version `version` would send it.
  static std::vector<uint8_t> in_version(const wire_message& m, uint16_t version) {
    auto bytes = encode(m);
    // One segment: an 8-byte segment table, the root pointer, then the envelope's data, whose
    // first two bytes are the version (docs/protocol.md §3).
    bytes[16] = static_cast<uint8_t>(version);
    bytes[17] = static_cast<uint8_t>(version >> 8);
    auto decoded = decode(bytes);
    REQUIRE_FALSE(decoded);
    REQUIRE(has_code(decoded.error(), errc::unsupported_version));
    return bytes;
  }

  std::vector<refusal> refusals_to(const std::string& to) {
    std::vector<refusal> out;
    for (const auto& d : link->datagrams()) {
      if (d.to != to)
        continue;
      auto m = decode(d.bytes);
      REQUIRE(m);
      auto* r = std::get_if<refusal>(&*m);
      REQUIRE(r != nullptr);
      out.push_back(*r);
    }
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(router_fixture, "datagrams go to the actor that handles their kind") {
  auto req = make_request(3);
  link->deliver_datagram("10.0.0.5:47710", encode(req));
  test_donor d{"donor-a"};
  link->deliver_datagram("10.0.0.6:47710", encode(d.offer_for(req, img.manifest)));
  link->deliver_datagram("10.0.0.7:47710", encode(refusal{1, "no"}));
  run();
  REQUIRE(donor->count<datagram_message>() == 1);
  auto to_donor = donor->last<datagram_message>();
  CHECK(to_donor.from == "10.0.0.5:47710");
  REQUIRE(std::holds_alternative<image_request>(to_donor.msg));
  CHECK(std::get<image_request>(to_donor.msg).request_id == 3);
  auto to_discovery = discovery->all<datagram_message>();
  REQUIRE(to_discovery.size() == 2);
  CHECK(std::holds_alternative<offer>(to_discovery[0].msg));
  CHECK(to_discovery[0].from == "10.0.0.6:47710");
  CHECK(std::holds_alternative<refusal>(to_discovery[1].msg));
}

TEST_CASE_METHOD(router_fixture, "garbage is dropped without an answer") {
  link->deliver_datagram("10.0.0.5:47710", random_bytes(64, 3));
  link->deliver_datagram("10.0.0.5:47710", {1, 2, 3});
  run();
  CHECK(donor->messages.empty());
  CHECK(discovery->messages.empty());
  CHECK(link->datagrams().empty());
}

TEST_CASE_METHOD(router_fixture, "another protocol version is refused, at a bounded rate") {
  ctx->config.limits.answers_per_source_per_s = 2;
  ctx->config.limits.answers_per_s = 50;
  caf::anon_send(rt, context_update{ctx});
  run();
  auto v2 = in_version(make_request(3), 3);
  link->deliver_datagram("10.0.0.5:47710", v2);
  run();
  auto refusals = refusals_to("10.0.0.5:47710");
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].supported_version == protocol_version);
  CHECK(refusals[0].reason == "protocol version 3 is not supported (this node speaks 2)");
  CHECK(donor->messages.empty());

  // A flood from one host, from any port, gets its burst (twice the rate) and no more.
  for (int i = 0; i < 100; ++i)
    link->deliver_datagram("10.0.0.5:" + std::to_string(40000 + i), v2);
  link->deliver_datagram("10.0.0.8:47710", v2); // another sender is told too
  run();
  size_t to_flooder = 0;
  for (const auto& d : link->datagrams())
    to_flooder += d.to.rfind("10.0.0.5:", 0) == 0 ? 1 : 0;
  CHECK(to_flooder == 4);
  CHECK(refusals_to("10.0.0.8:47710").size() == 1);
  advance(1s);
  link->deliver_datagram("10.0.0.5:47710", v2);
  run();
  CHECK(refusals_to("10.0.0.5:47710").size() == 2);
}

TEST_CASE_METHOD(router_fixture, "image requests, which cost a signed offer, are rate limited per "
                                 "source") {
  for (int i = 0; i < 50; ++i)
    link->deliver_datagram("10.0.0.5:47710", encode(make_request(static_cast<uint64_t>(i))));
  link->deliver_datagram("10.0.0.6:47710", encode(make_request(99)));
  run();
  // The default: 2 per second per source, a burst of 4.
  CHECK(donor->count<datagram_message>() == 4 + 1);
  // Every datagram was reported handled, so the transport keeps reading.
  CHECK(link->datagrams_consumed() == 51);
}

TEST_CASE_METHOD(router_fixture, "frames are reported handled once decoded") {
  auto s = link->open_inbound("10.0.0.5:51000");
  auto frame = encode(block_request{0, 1});
  link->deliver_frame(s, frame);
  run();
  CHECK(link->consumed(s) == frame.size());
}

TEST_CASE_METHOD(router_fixture, "another version's refusal is not answered") {
  link->deliver_datagram("10.0.0.5:47710", in_version(refusal{3, "version 2 is too old"}, 3));
  run();
  CHECK(link->datagrams().empty());
  auto s = link->open_inbound("10.0.0.5:51000");
  link->deliver_frame(s, in_version(refusal{3, "version 2 is too old"}, 3));
  run();
  CHECK(link->frames_on(s).empty());
  CHECK_FALSE(link->is_open(s));
}

TEST_CASE_METHOD(router_fixture, "a session frame in another version is refused and the session "
                                 "closed") {
  auto s = link->open_inbound("10.0.0.5:51000");
  link->deliver_frame(s, in_version(block_request{0, 1}, 3));
  run();
  auto frames = decode_all(link->frames_on(s));
  REQUIRE(frames.size() == 1);
  CHECK(std::holds_alternative<refusal>(frames[0]));
  CHECK_FALSE(link->is_open(s));
}

TEST_CASE_METHOD(router_fixture, "inbound sessions belong to the donor") {
  auto s = link->open_inbound("10.0.0.5:51000");
  link->deliver_frame(s, encode(block_request{4, 2}));
  link->deliver_frame(s, random_bytes(16, 1)); // malformed: the session is closed
  run();
  REQUIRE(donor->count<session_opened_event>() == 1);
  auto opened = donor->last<session_opened_event>();
  CHECK(opened.id == s);
  CHECK(opened.inbound);
  CHECK(opened.peer == "10.0.0.5:51000");
  REQUIRE(donor->count<session_message>() == 1);
  CHECK(std::get<block_request>(donor->last<session_message>().msg).first == 4);
  CHECK_FALSE(link->is_open(s));
  REQUIRE(donor->count<session_closed_event>() == 1);
  CHECK(donor->last<session_closed_event>().id == s);
}

TEST_CASE_METHOD(router_fixture, "an outbound session's events wait for its claim") {
  auto owner_log = std::make_shared<mailbox_log>();
  auto owner = sys.spawn(recorder, owner_log);
  spawned.push_back(owner);
  auto s = link->open_session("10.0.0.6:47711");
  link->accept_open(s);
  link->deliver_frame(s, encode(confirm{8}));
  run();
  CHECK(donor->messages.empty());
  CHECK(discovery->messages.empty());
  caf::send_as(owner, rt, claim_session{s});
  run();
  REQUIRE(owner_log->messages.size() == 2);
  CHECK(owner_log->count<session_opened_event>() == 1);
  CHECK(owner_log->messages[1].match_element<session_message>(0));
  // Once claimed, events go straight to the owner.
  link->deliver_frame(s, encode(leaves{0, {digest{}}}));
  link->close_by_peer(s, "closed by peer");
  run();
  REQUIRE(owner_log->messages.size() == 4);
  CHECK(owner_log->last<session_closed_event>().reason == "closed by peer");
  CHECK(donor->messages.empty());
}

TEST_CASE_METHOD(router_fixture, "a claim made before the session opens gets every event") {
  auto owner_log = std::make_shared<mailbox_log>();
  auto owner = sys.spawn(recorder, owner_log);
  spawned.push_back(owner);
  auto s = link->open_session("10.0.0.6:47711");
  caf::send_as(owner, rt, claim_session{s});
  run();
  link->refuse_open(s, "connection refused");
  run();
  REQUIRE(owner_log->count<session_closed_event>() == 1);
  CHECK(owner_log->last<session_closed_event>().reason == "connection refused");
}
