#include "tests/actors/actor_fixture.hpp"

#include "actors/discovery.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace std::chrono_literals;

namespace {

/// Discovery with the fake transport's datagrams decoded straight to it, and a recorder as the
/// coordinator. The window is the default 300 ms.
struct discovery_fixture : actor_fixture {
  std::shared_ptr<mailbox_log> coordinator = record(roles::coordinator);
  actor_bridge bridge;
  caf::actor disc;
  test_image img = image();
  test_donor donor_a{"donor-a"};
  test_donor donor_b{"donor-b", node_role::console};
  image_request req = make_request(41);

  discovery_fixture() {
    disc = spawn(discovery);
    bridge.target = disc;
    REQUIRE_FALSE(link->start(bridge));
    run();
  }

  void open_request() {
    caf::anon_send(disc, req);
    run();
  }

  void answer(const test_donor& d, const offer& o) {
    link->deliver_datagram(d.id + ":47710", encode(o));
    run();
  }

  offers_collected collected() {
    advance(300ms);
    REQUIRE(coordinator->count<offers_collected>() == 1);
    return coordinator->last<offers_collected>();
  }
};

} // namespace

TEST_CASE_METHOD(discovery_fixture, "an image request is broadcast as encoded") {
  open_request();
  REQUIRE(link->broadcasts().size() == 1);
  auto sent = decode(link->broadcasts()[0]);
  REQUIRE(sent);
  auto* r = std::get_if<image_request>(&*sent);
  REQUIRE(r != nullptr);
  CHECK(r->request_id == req.request_id);
  CHECK(r->challenge == req.challenge);
  CHECK(r->requester == req.requester);
  CHECK(r->platform == req.platform);
}

TEST_CASE_METHOD(discovery_fixture, "valid offers are collected for the window, then handed on") {
  open_request();
  answer(donor_a, donor_a.offer_for(req, img.manifest));
  answer(donor_b, donor_b.offer_for(req, img.manifest));
  advance(299ms);
  CHECK(coordinator->count<offers_collected>() == 0);
  advance(1ms);
  REQUIRE(coordinator->count<offers_collected>() == 1);
  auto got = coordinator->last<offers_collected>();
  CHECK(got.request.request_id == req.request_id);
  REQUIRE(got.offers.size() == 2);
  CHECK(got.offers[0].source.fields.donor == "donor-a");
  CHECK(got.offers[0].from == "donor-a:47710");
  CHECK(got.offers[0].manifest.fields.merkle_root == img.manifest.fields.merkle_root);
  CHECK(got.offers[0].manifest.body == img.manifest.body);
  CHECK(got.offers[1].source.fields.role == node_role::console);
  CHECK(got.rejected.empty());
}

TEST_CASE_METHOD(discovery_fixture, "offers that do not answer this request or are forged are "
                                    "rejected with the reason") {
  open_request();
  // Same request id, another nonce: a replay of an old offer.
  auto replayed = req;
  replayed.challenge[0] ^= 1;
  answer(donor_a, donor_a.offer_for(replayed, img.manifest));
  // Signed by a key other than the one it names.
  auto forged = donor_b.offer_for(req, img.manifest);
  forged.sig[10] ^= 0x20;
  answer(donor_b, forged);
  // Another request altogether: stale, dropped without a verdict.
  answer(donor_a, donor_a.offer_for(make_request(7), img.manifest));
  auto got = collected();
  CHECK(got.offers.empty());
  REQUIRE(got.rejected.size() == 2);
  CHECK(got.rejected[0].donor == "donor-a");
  CHECK_FALSE(got.rejected[0].compatible);
  CHECK(got.rejected[0].reason.find("stale or replayed") != std::string::npos);
  CHECK(got.rejected[1].donor == "donor-b");
  CHECK(got.rejected[1].reason == "node signature does not verify");
}

TEST_CASE_METHOD(discovery_fixture, "a refusal is logged, not collected") {
  open_request();
  link->deliver_datagram("old-node:47710",
                         encode(refusal{protocol_version, "protocol version 1 is not supported"}));
  run();
  auto got = collected();
  CHECK(got.offers.empty());
  CHECK(got.rejected.empty());
}

TEST_CASE_METHOD(discovery_fixture, "offers after the window are ignored") {
  open_request();
  auto got = collected();
  CHECK(got.offers.empty());
  answer(donor_a, donor_a.offer_for(req, img.manifest));
  advance(1s);
  CHECK(coordinator->count<offers_collected>() == 1);
}

TEST_CASE_METHOD(discovery_fixture, "a new request starts a new window") {
  open_request();
  answer(donor_a, donor_a.offer_for(req, img.manifest));
  advance(200ms);
  auto first = req;
  req = make_request(42);
  open_request();
  answer(donor_a, donor_a.offer_for(first, img.manifest)); // late answer to the first request
  answer(donor_b, donor_b.offer_for(req, img.manifest));
  advance(100ms); // the first request's timer fires: nothing, it is no longer open
  CHECK(coordinator->count<offers_collected>() == 0);
  advance(200ms);
  REQUIRE(coordinator->count<offers_collected>() == 1);
  auto got = coordinator->last<offers_collected>();
  CHECK(got.request.request_id == 42);
  REQUIRE(got.offers.size() == 1);
  CHECK(got.offers[0].source.fields.donor == "donor-b");
}
