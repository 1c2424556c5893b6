// The fleet actor on the test coordinator (docs/fleet.md): how it answers other nodes' queries,
// and what a query of its own lists.

#include "tests/actors/actor_fixture.hpp"

#include "actors/fleet.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace std::chrono_literals;

namespace {

constexpr auto root_hex = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// The fleet actor with the fake transport's datagrams decoded straight to it, and a recorder
/// as the coordinator that answers status with an installed image and a recovery.
struct fleet_fixture : actor_fixture {
  std::shared_ptr<mailbox_log> coordinator = record(roles::coordinator);
  actor_bridge bridge;
  caf::actor actor;
  secret_key asker = secret_key::generate();

  fleet_fixture() {
    coordinator->reply = [](const caf::message&) {
      std::string status = R"({"component":"bios","state":"done","installed":{"version":"2.5",)";
      status += R"("svn":5,"root":")" + std::string{root_hex} + R"("},"last_recovery":)";
      status += R"({"succeeded":true,"number":3,"finished_at":1796000000}})";
      return caf::make_message(status);
    };
    actor = spawn(fleet);
    bridge.target = actor;
    REQUIRE_FALSE(link->start(bridge));
    run();
  }

  fleet_query query_from(const std::string& id, const secret_key& key) {
    nonce n{};
    n.fill(0x11);
    return make_fleet_query({1234, n, id, key.public_part()}, key);
  }
};

} // namespace

TEST_CASE_METHOD(fleet_fixture, "a query is answered on its link, signed, and never larger") {
  auto q = query_from("bmc-x", asker);
  auto query_bytes = encode(q);
  link->deliver_datagram("lan:10.0.0.9:7000", query_bytes);
  run();
  REQUIRE(link->datagrams().size() == 1);
  const auto& sent = link->datagrams()[0];
  CHECK(sent.to == "lan:10.0.0.9:7000");
  CHECK(sent.bytes.size() <= query_bytes.size());
  auto m = decode(sent.bytes);
  REQUIRE(m);
  auto& a = std::get<fleet_answer>(*m);
  CHECK(verify_fleet_answer(a));
  CHECK(a.fields.query_id == 1234);
  CHECK(a.fields.challenge == q.fields.challenge);
  CHECK(a.fields.node == "recipient");
  CHECK(a.fields.node_key == ctx->node_key->public_part());
  REQUIRE(a.fields.targets.size() == 1);
  const auto& t = a.fields.targets[0];
  CHECK(t.name == "bios");
  CHECK(t.version == "2.5");
  CHECK(t.svn == 5);
  REQUIRE(t.root);
  CHECK((*t.root)[0] == 0x5a);
  CHECK(t.state == "done");
  CHECK(t.last_outcome == "succeeded");
  CHECK(t.last_number == 3);
  CHECK(t.last_at == 1796000000);
}

TEST_CASE_METHOD(fleet_fixture, "a forged query, or this node's own, is not answered") {
  auto forged = query_from("bmc-x", asker);
  forged.sig[3] ^= 1;
  link->deliver_datagram("lan:10.0.0.9:7000", encode(forged));
  link->deliver_datagram("lan:10.0.0.1:7000", encode(query_from("recipient", asker)));
  run();
  CHECK(link->datagrams().empty());
}

TEST_CASE_METHOD(fleet_fixture, "a query lists this node and the answers kept, not an impostor") {
  auto report = std::make_shared<std::optional<fleet_report>>();
  auto helper = sys.spawn(
    [=](caf::event_based_actor* self, const caf::actor& to) {
      self->request(to, caf::infinite, fleet_scan_request{200ms}).then([=](fleet_report& r) {
        *report = std::move(r);
      });
    },
    actor);
  spawned.push_back(helper);
  run();
  REQUIRE(link->broadcasts().size() == 1);
  auto sent = decode(link->broadcasts()[0]);
  REQUIRE(sent);
  auto& q = std::get<fleet_query>(*sent);
  CHECK(verify_fleet_query(q));
  CHECK(link->broadcasts()[0].size() >= fleet_limits::max_datagram);

  auto answer_as = [&](const std::string& id, const secret_key& key) {
    fleet_answer_fields f;
    f.query_id = q.fields.query_id;
    f.challenge = q.fields.challenge;
    f.node = id;
    f.node_key = key.public_part();
    f.targets = {{"bios", "bios", "2.6", 6, std::nullopt, "idle", "", 0, 0}};
    return encode(*make_fleet_answer(f, key, fleet_limits::max_datagram));
  };
  auto b = secret_key::generate();
  link->deliver_datagram("lan:10.0.0.2:7000", answer_as("bmc-b", b));
  link->deliver_datagram("lan:10.0.0.66:7000", answer_as("bmc-b", secret_key::generate()));
  link->deliver_datagram("lan:10.0.0.2:7000", answer_as("bmc-b", b)); // listed once
  run();
  CHECK_FALSE(report->has_value());
  advance(200ms);
  REQUIRE(report->has_value());
  const auto& r = **report;
  REQUIRE(r.nodes.size() == 2);
  CHECK(r.nodes[0].self);
  CHECK(r.nodes[0].fields.node == "recipient");
  CHECK(r.nodes[0].fields.targets.at(0).state == "done");
  CHECK(r.nodes[1].fields.node == "bmc-b");
  CHECK(r.nodes[1].address == "lan:10.0.0.2:7000");
  REQUIRE(r.dropped.size() == 1);
  CHECK(r.dropped[0].address == "lan:10.0.0.66:7000");
  CHECK(r.dropped[0].node == "bmc-b");
  // The first answer pinned bmc-b's key at once: the second key is not the pinned one.
  CHECK_THAT(r.dropped[0].why,
             Catch::Contains("is not the key " + key_text(b.public_part()) + " pinned for bmc-b"));
  // The first key is pinned, and kept in the state directory.
  fleet_pins pins{fleet_pin_path(*ctx)};
  REQUIRE_FALSE(pins.load());
  REQUIRE(pins.find("bmc-b"));
  CHECK(*pins.find("bmc-b") == b.public_part());
}
