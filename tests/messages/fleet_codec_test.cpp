// The fleet query and answer on the wire (docs/fleet.md): round trips, bounds, the size rule
// that keeps an answer from exceeding its query, and the signed-body tag that keeps any other
// signed body from reading as a fleet answer.

#include <catch2/catch.hpp>

#include <functional>

#include <fmt/format.h>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "common/error.hpp"
#include "messages/protocol.capnp.h"
#include "messages/protocol.hpp"

using namespace fwrescue;

namespace {

secret_key key_from(uint8_t seed) {
  std::array<uint8_t, 32> bytes{};
  bytes.fill(seed);
  return secret_key{bytes};
}

nonce sample_nonce() {
  nonce n{};
  for (size_t i = 0; i < n.size(); ++i)
    n[i] = static_cast<uint8_t>(0x30 + i);
  return n;
}

fleet_target sample_target(int i) {
  digest root{};
  root.fill(static_cast<uint8_t>(0x40 + i));
  return {fmt::format("target-{}", i),
          "bios",
          "2026.11-rc" + std::to_string(i),
          9,
          root,
          "transferring",
          "failed",
          3,
          1796000000};
}

fleet_answer_fields sample_answer(const secret_key& key, size_t targets = 1) {
  fleet_answer_fields f;
  f.query_id = 99;
  f.challenge = sample_nonce();
  f.node = "bmc-rack3-u18";
  f.node_key = key.public_part();
  f.role = node_role::peer;
  f.links = {{"lan", true}, {"icmb", false}};
  for (size_t i = 0; i < targets; ++i)
    f.targets.push_back(sample_target(static_cast<int>(i)));
  return f;
}

template <class T>
T round_trip(const T& m) {
  auto decoded = decode(encode(m));
  if (!decoded)
    FAIL("decode failed: " << describe(decoded.error()));
  REQUIRE(std::holds_alternative<T>(*decoded));
  return std::get<T>(*decoded);
}

std::string error_of(std::span<const uint8_t> bytes) {
  auto decoded = decode(bytes);
  REQUIRE_FALSE(decoded);
  CHECK(has_code(decoded.error(), errc::malformed));
  return describe(decoded.error());
}

/// A fleet answer whose signed body is filled by hand, for encodings our encoder never writes.
std::vector<uint8_t> raw_answer(const std::function<void(schema::FleetAnswerBody::Builder)>& fill) {
  capnp::MallocMessageBuilder body_builder;
  auto body = body_builder.initRoot<schema::SignedBody>().initFleetAnswer();
  auto n = sample_nonce();
  body.setNonce({n.data(), n.size()});
  body.setNode("bmc-b");
  body.initNodeKey(32);
  fill(body);
  auto body_words = capnp::messageToFlatArray(body_builder);
  capnp::MallocMessageBuilder builder;
  auto env = builder.initRoot<schema::Envelope>();
  env.setProtocolVersion(protocol_version);
  auto out = env.initFleetAnswer();
  out.setBody(body_words.asBytes());
  out.initSignature(64);
  auto words = capnp::messageToFlatArray(builder);
  return {words.asBytes().begin(), words.asBytes().end()};
}

} // namespace

TEST_CASE("a fleet query and answer survive encoding and verify under the key they carry") {
  auto asker = key_from(1);
  auto q = round_trip(make_fleet_query({5, sample_nonce(), "bmc-a", asker.public_part()}, asker));
  CHECK(q.fields.query_id == 5);
  CHECK(q.fields.challenge == sample_nonce());
  CHECK(q.fields.asker == "bmc-a");
  CHECK(q.fields.asker_key == asker.public_part());
  CHECK(verify_fleet_query(q));

  auto node = key_from(2);
  auto made = make_fleet_answer(sample_answer(node, 2), node, fleet_limits::max_datagram);
  REQUIRE(made);
  auto a = round_trip(*made);
  CHECK(a.fields == sample_answer(node, 2));
  CHECK_FALSE(a.fields.truncated);
  CHECK(a.fields.targets[1].root == sample_target(1).root);
  CHECK(a.fields.targets[0].last_outcome == "failed");
  CHECK(a.fields.targets[0].last_at == 1796000000);
  CHECK(verify_fleet_answer(a));

  // Nothing installed: no root travels, and none comes back.
  auto bare = sample_answer(node);
  bare.targets[0].version.clear();
  bare.targets[0].root.reset();
  auto b = round_trip(*make_fleet_answer(bare, node, fleet_limits::max_datagram));
  CHECK_FALSE(b.fields.targets[0].root);
}

TEST_CASE("a changed field, or another key, fails a fleet answer's verification") {
  auto node = key_from(2);
  auto a = *make_fleet_answer(sample_answer(node), node, fleet_limits::max_datagram);
  auto changed = a;
  changed.fields.node = "console";
  CHECK_FALSE(verify_fleet_answer(changed));
  changed = a;
  changed.fields.targets[0].svn = 10;
  CHECK_FALSE(verify_fleet_answer(changed));
  // Claiming another node's key: the signature is not that key's.
  auto fields = sample_answer(node);
  fields.node_key = key_from(3).public_part();
  CHECK_FALSE(verify_fleet_answer(round_trip(*make_fleet_answer(fields, node, 1280))));
}

TEST_CASE("a query is padded to the largest answer, and no answer exceeds its query") {
  auto asker = key_from(1);
  auto q = make_fleet_query({5, sample_nonce(), "bmc-a", asker.public_part()}, asker);
  auto query_size = encode(q).size();
  CHECK(query_size >= fleet_limits::max_datagram);
  CHECK(query_size <= 1400); // one datagram on every link

  // Sixteen targets with long names do not fit: the answer keeps what fits and says so.
  auto node = key_from(2);
  auto fields = sample_answer(node, 16);
  for (auto& t : fields.targets)
    t.version = std::string(60, 'v');
  auto a = make_fleet_answer(fields, node, query_size);
  REQUIRE(a);
  CHECK(encode(*a).size() <= query_size);
  CHECK(a->fields.truncated);
  CHECK(a->fields.targets.size() < 8);
  CHECK(a->fields.targets.size() >= 1);
  CHECK(verify_fleet_answer(round_trip(*a)));

  // Nine small targets fit in bytes but not in the count: eight go.
  auto small = sample_answer(node);
  small.targets.clear();
  for (int i = 0; i < 9; ++i)
    small.targets.push_back({fmt::format("t{}", i), "bios", "", 0, {}, "idle", "", 0, 0});
  auto nine = make_fleet_answer(small, node, query_size);
  REQUIRE(nine);
  CHECK(nine->fields.targets.size() == fleet_limits::max_targets);
  CHECK(nine->fields.truncated);

  // A small query gets a small answer, or none.
  auto smaller = make_fleet_answer(sample_answer(node, 4), node, 400);
  REQUIRE(smaller);
  CHECK(encode(*smaller).size() <= 400);
  CHECK(smaller->fields.truncated);
  auto none = make_fleet_answer(sample_answer(node, 1), node, 100);
  REQUIRE_FALSE(none);
  CHECK_THAT(describe(none.error()), Catch::Contains("the query allows 100"));
}

TEST_CASE("a body signed as an offer or an accept is not a fleet answer, nor a query") {
  auto key = key_from(2);
  offer_fields of;
  of.donor = "bmc-b";
  of.donor_key = key.public_part();
  of.session_address = "127.0.0.1:1";
  manifest m;
  m.platform = {"Acme", "X"};
  m.version = "1";
  m.image_size = 4096;
  m.block_size = 4096;
  of.manifest_body = encode_body(m);
  auto o = make_offer(of, key);
  REQUIRE(verify_offer(o));
  CHECK_THAT(error_of(encode(fleet_answer{o.body, o.sig, {}})),
             Catch::Contains("not a fleet answer"));
  CHECK_THAT(error_of(encode(fleet_query{o.body, o.sig, {}})),
             Catch::Contains("not a fleet query"));
  // And the other way round: a signed fleet answer is no offer.
  auto a = *make_fleet_answer(sample_answer(key), key, fleet_limits::max_datagram);
  CHECK_THAT(error_of(encode(offer{a.body, a.sig, {}})), Catch::Contains("not an offer"));
  auto q = make_fleet_query({5, sample_nonce(), "bmc-b", key.public_part()}, key);
  CHECK_THAT(error_of(encode(fleet_answer{q.body, q.sig, {}})),
             Catch::Contains("not a fleet answer"));
}

TEST_CASE("fleet answers beyond the bounds are refused with the field named") {
  CHECK(decode(raw_answer([](auto) {})));
  CHECK_THAT(error_of(raw_answer([](auto b) { b.initTargets(9); })),
             Catch::Contains("fleet_answer.targets holds 9 targets; at most 8"));
  CHECK_THAT(error_of(raw_answer([](auto b) { b.initLinks(9); })),
             Catch::Contains("fleet_answer.links holds 9 links; at most 8"));
  CHECK_THAT(error_of(raw_answer([](auto b) { b.setNode(std::string(65, 'n')); })),
             Catch::Contains("fleet_answer.node is 65 bytes long, the limit is 64"));
  CHECK_THAT(error_of(raw_answer([](auto b) { b.setNode("bmc\n-b"); })),
             Catch::Contains("fleet_answer.node holds characters other than printable ASCII"));
  CHECK_THAT(error_of(raw_answer([](auto b) { b.initNodeKey(31); })),
             Catch::Contains("fleet_answer.node_key is 31 bytes, expected 32"));
  CHECK_THAT(error_of(raw_answer([](auto b) { b.setRole(static_cast<schema::NodeRole>(7)); })),
             Catch::Contains("fleet_answer.role 7 is unknown"));
  auto target = [](auto fill) {
    return raw_answer([&](auto b) {
      auto t = b.initTargets(1)[0];
      t.setName("bios");
      t.setComponent("bios");
      t.setState("idle");
      fill(t);
    });
  };
  CHECK(decode(target([](auto) {})));
  CHECK_THAT(error_of(target([](auto t) { t.initRoot(31); })),
             Catch::Contains("fleet_answer.targets[].root is 31 bytes, expected 32"));
  CHECK_THAT(error_of(target([](auto t) { t.setState(""); })),
             Catch::Contains("fleet_answer.targets[].state is empty"));
  CHECK_THAT(error_of(target([](auto t) { t.setVersion(std::string(100, 'v')); })),
             Catch::Contains("fleet_answer.targets[].version is 100 bytes long"));
}
