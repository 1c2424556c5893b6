#include "tests/actors/actor_fixture.hpp"

#include "actors/negotiation.hpp"

using namespace fwrescue;
using namespace fwrescue::test;

namespace {

struct negotiation_fixture : actor_fixture {
  image_request req = make_request(9);
  test_donor peer_a{"peer-a"};
  test_donor console{"console", node_role::console};
  test_donor peer_c{"peer-c"};

  compatibility_rules rules() const {
    compatibility_rules r;
    r.platform = test_platform();
    r.svn_floor = 3;
    r.flash_size = flash_size;
    r.trusted_keys = ctx->trusted_keys;
    return r;
  }

  candidate offer_of(const test_donor& d, const test_image& img) {
    return d.candidate_for(req, img.manifest);
  }
};

} // namespace

TEST_CASE_METHOD(negotiation_fixture, "incompatible offers are rejected with the reason") {
  auto untrusted = secret_key::generate();
  struct row {
    const char* what;
    test_image img;
    std::string reason;
  };
  std::vector<row> table{
    {"compatible", image(), ""},
    {"wrong platform", make_image(release_key, random_bytes(8192, 2), 5, {"Acme", "X12"}),
     "platform Acme:X12 does not match Acme:X11-DP"},
    {"svn below the floor", image(8192, 3, 2), "svn 2 is below the floor 3"},
    {"larger than the flash", image(2 * flash_size, 4),
     "image of 131072 bytes does not fit the 65536-byte flash"},
    {"untrusted signer", make_image(untrusted, random_bytes(8192, 5)), "not among the 1 trusted"},
  };
  for (auto& r : table) {
    INFO(r.what);
    auto offers = collected(req, {offer_of(peer_a, r.img)});
    auto result = negotiate(offers, rules(), "prefer-console", ctx->policies.at("prefer-console"));
    REQUIRE(result.verdicts.size() == 1);
    const auto& v = result.verdicts[0];
    CHECK(v.donor == "peer-a");
    CHECK(v.svn == r.img.manifest.fields.svn);
    if (r.reason.empty()) {
      CHECK(v.compatible);
      CHECK(v.rank == 1);
      CHECK(result.ranked.size() == 1);
    } else {
      CHECK_FALSE(v.compatible);
      CHECK(v.rank == 0);
      CHECK(v.reason.find(r.reason) != std::string::npos);
      CHECK(result.ranked.empty());
    }
  }
}

TEST_CASE_METHOD(negotiation_fixture, "the policy orders the compatible offers") {
  auto offers = collected(
    req,
    {offer_of(peer_a, image(8192, 1, 5)), offer_of(console, image(8192, 2, 4)),
     offer_of(peer_c, image(8192, 3, 6)), offer_of(peer_c, image(8192, 4, 1))}, // below the floor
    {verdict("forger", 0, "node signature does not verify")});
  auto donors = [](const negotiation_result& r) {
    std::vector<std::string> out;
    for (const auto& c : r.ranked)
      out.push_back(c.source.fields.donor + "/" + std::to_string(c.manifest.fields.svn));
    return out;
  };
  SECTION("prefer-console: the console, then peers by newest svn") {
    auto r = negotiate(offers, rules(), "prefer-console", ctx->policies.at("prefer-console"));
    CHECK(r.policy == "prefer-console");
    CHECK(donors(r) == std::vector<std::string>{"console/4", "peer-c/6", "peer-a/5"});
    // Discovery's rejections come first, then one verdict per offer in arrival order.
    REQUIRE(r.verdicts.size() == 5);
    CHECK(r.verdicts[0].donor == "forger");
    CHECK(r.verdicts[1].rank == 3);
    CHECK(r.verdicts[2].rank == 1);
    CHECK(r.verdicts[3].rank == 2);
    CHECK(r.verdicts[4].rank == 0);
    CHECK_FALSE(r.verdicts[4].compatible);
  }
  SECTION("first-responder: arrival order") {
    auto r = negotiate(offers, rules(), "first-responder", ctx->policies.at("first-responder"));
    CHECK(donors(r) == std::vector<std::string>{"peer-a/5", "console/4", "peer-c/6"});
  }
}

TEST_CASE_METHOD(negotiation_fixture, "the actor judges against the higher of config and stored "
                                      "svn floor") {
  ctx->config.recovery.policy = "first-responder";
  SECTION("the stored floor is higher") {
    ctx->config.svn_floor = 2;
    REQUIRE_FALSE(store->raise_svn_floor(6));
  }
  SECTION("the configured floor is higher") {
    ctx->config.svn_floor = 6;
    REQUIRE_FALSE(store->raise_svn_floor(2));
  }
  auto neg = spawn(negotiation);
  auto offers =
    collected(req, {offer_of(peer_a, image(8192, 1, 5)), offer_of(peer_c, image(8192, 2, 7))});
  auto r = ask<negotiation_result>(neg, offers);
  CHECK(r.policy == "first-responder");
  REQUIRE(r.ranked.size() == 1);
  CHECK(r.ranked[0].source.fields.donor == "peer-c");
  REQUIRE(r.verdicts.size() == 2);
  CHECK(r.verdicts[0].reason == "svn 5 is below the floor 6");
}

TEST_CASE_METHOD(negotiation_fixture, "the actor rejects images larger than this node's flash") {
  auto neg = spawn(negotiation);
  auto offers = collected(req, {offer_of(peer_a, image(2 * flash_size))});
  auto r = ask<negotiation_result>(neg, offers);
  CHECK(r.ranked.empty());
  REQUIRE(r.verdicts.size() == 1);
  CHECK(r.verdicts[0].reason.find("does not fit the 65536-byte flash") != std::string::npos);
}

TEST_CASE_METHOD(negotiation_fixture, "the actor rejects images of another component than its "
                                      "flash's") {
  auto neg = spawn(negotiation);
  auto nic = make_image(release_key, random_bytes(8192, 4), 5, test_platform(), 1024, "nic");
  auto offers = collected(req, {offer_of(peer_a, nic), offer_of(peer_c, image(8192, 2, 5))});
  auto r = ask<negotiation_result>(neg, offers);
  REQUIRE(r.ranked.size() == 1);
  CHECK(r.ranked[0].source.fields.donor == "peer-c");
  REQUIRE(r.verdicts.size() == 2);
  CHECK(r.verdicts[0].reason == "component nic does not match bios");

  // A NIC node takes the NIC image and refuses the BIOS one.
  ctx->config.flash.component = "nic";
  r = ask<negotiation_result>(neg, offers);
  REQUIRE(r.ranked.size() == 1);
  CHECK(r.ranked[0].source.fields.donor == "peer-a");
  CHECK(r.verdicts[1].reason == "component bios does not match nic");
}
