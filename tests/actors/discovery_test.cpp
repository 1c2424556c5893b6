#include "tests/actors/actor_fixture.hpp"

#include "actors/discovery.hpp"
#include "image/revocation.hpp"

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

TEST_CASE_METHOD(discovery_fixture, "an image request names the component of this node's "
                                    "flash") {
  ctx->config.flash.component = "nic";
  open_request(); // the coordinator's request names none of its own
  REQUIRE(link->broadcasts().size() == 1);
  auto sent = decode(link->broadcasts()[0]);
  REQUIRE(sent);
  CHECK(std::get<image_request>(*sent).component == "nic");
  advance(300ms);
  CHECK(coordinator->last<offers_collected>().request.component == "nic");
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

TEST_CASE_METHOD(discovery_fixture, "a console claim counts only from a known console key") {
  test_donor forger{"forger", node_role::console};
  SECTION("donor_b's key is a console key") {
    ctx->console_keys = {donor_b.key.public_part()};
  }
  SECTION("no console keys at all: no claim is believed") {}
  open_request();
  answer(donor_b, donor_b.offer_for(req, img.manifest));
  answer(forger, forger.offer_for(req, img.manifest));
  auto got = collected();
  REQUIRE(got.offers.size() == 2);
  bool known = !ctx->console_keys.empty();
  CHECK(got.offers[0].role == (known ? node_role::console : node_role::peer));
  CHECK(got.offers[1].role == node_role::peer); // a fresh key claiming the role
  CHECK(got.offers[1].source.fields.role == node_role::console);
}

TEST_CASE_METHOD(discovery_fixture, "offers taken from one request are bounded in all and per "
                                    "source") {
  ctx->config.limits.offers_per_request = 6;
  ctx->config.limits.offers_per_source = 2;
  open_request();
  // Many identities on one host take only that host's share.
  for (int i = 0; i < 10; ++i) {
    test_donor d{"cheap-" + std::to_string(i)};
    link->deliver_datagram("10.0.0.66:" + std::to_string(40000 + i),
                           encode(d.offer_for(req, img.manifest)));
  }
  // Honest donors elsewhere still get in, up to the total.
  for (int i = 0; i < 6; ++i) {
    test_donor d{"honest-" + std::to_string(i)};
    link->deliver_datagram("10.0.1." + std::to_string(i) + ":47710",
                           encode(d.offer_for(req, img.manifest)));
  }
  run();
  auto got = collected();
  REQUIRE(got.offers.size() == 6);
  size_t cheap = 0;
  for (const auto& o : got.offers)
    cheap += o.source.fields.donor.rfind("cheap-", 0) == 0 ? 1 : 0;
  CHECK(cheap == 2);
}

TEST_CASE_METHOD(discovery_fixture, "a newer revocation list from a donor is kept, and offers "
                                    "from revoked node keys are refused") {
  revocation_list list;
  list.serial = 3;
  list.keys.push_back(donor_a.key.public_part().bytes);
  auto signed_list = sign_revocations(release_key, list);
  REQUIRE(signed_list);
  ctx->revocation_keys = {release_key.public_part()};
  open_request();
  link->deliver_datagram("donor-b:47710", encode(revocation_notice{*signed_list}));
  run();
  auto stored = store->revocations();
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  CHECK((*stored)->fields.serial == 3);
  answer(donor_a, donor_a.offer_for(req, img.manifest));
  answer(donor_b, donor_b.offer_for(req, img.manifest));
  auto got = collected();
  REQUIRE(got.offers.size() == 1);
  CHECK(got.offers[0].source.fields.donor == "donor-b");
  REQUIRE(got.rejected.size() == 1);
  CHECK_THAT(got.rejected[0].reason, Catch::Contains("node key is revoked"));

  SECTION("a list signed by a key not allowed to sign lists is not kept") {
    list.serial = 9;
    auto forged = sign_revocations(donor_b.key, list);
    req = make_request(43);
    open_request();
    link->deliver_datagram("donor-b:47710", encode(revocation_notice{*forged}));
    run();
    CHECK((*store->revocations())->fields.serial == 3);
  }
}
