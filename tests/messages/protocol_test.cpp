#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <functional>
#include <random>

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>

#include "common/error.hpp"
#include "image/revocation.hpp"
#include "image/signing.hpp"
#include "messages/protocol.capnp.h"
#include "messages/protocol.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

/// The largest message docs/protocol.md allows in one LAN datagram.
constexpr size_t max_datagram = 1400;

secret_key key_from(uint8_t seed) {
  std::array<uint8_t, 32> bytes{};
  bytes.fill(seed);
  return secret_key{bytes};
}

nonce sample_nonce() {
  nonce n{};
  for (size_t i = 0; i < n.size(); ++i)
    n[i] = static_cast<uint8_t>(0xa0 + i);
  return n;
}

manifest sample_manifest() {
  manifest m;
  m.platform = {"Acme", "X11-DP"};
  m.version = "2.7.1";
  m.svn = 7;
  m.image_size = 16 * 1024 * 1024;
  m.block_size = 4096;
  m.merkle_root.fill(0x5a);
  m.signer_key_id = {1, 2, 3, 4, 5, 6, 7, 8};
  m.created_at = 1795000000;
  return m;
}

image_request sample_request() {
  return {42, sample_nonce(), "bmc-rack3-u17", {"Acme", "X11-DP"}, 5, 11};
}

revocation_notice sample_notice() {
  revocation_list list;
  list.serial = 12;
  list.created_at = 1795000000;
  list.keys.push_back(key_from(4).public_part().bytes);
  list.roots.push_back(sample_manifest().merkle_root);
  auto signed_list = sign_revocations(key_from(3), list);
  REQUIRE(signed_list);
  return {*signed_list};
}

offer_fields sample_offer_fields(const secret_key& donor_key) {
  offer_fields f;
  f.request_id = 42;
  f.challenge = sample_nonce();
  f.donor = "bmc-rack3-u18";
  f.donor_key = donor_key.public_part();
  f.role = node_role::console;
  f.active_uploads = 1;
  f.max_uploads = 4;
  f.session_address = "192.168.10.18:7411";
  f.manifest_body = encode_body(sample_manifest());
  f.manifest_sig.fill(0x77);
  f.revocation_serial = 12;
  return f;
}

accept_fields sample_accept_fields(const secret_key& recipient_key) {
  accept_fields f;
  f.request_id = 42;
  f.challenge = sample_nonce();
  f.recipient = "bmc-rack3-u17";
  f.recipient_key = recipient_key.public_part();
  f.merkle_root.fill(0x5a);
  f.donor_key = key_from(5).public_part();
  f.accepts_zstd = true;
  f.no_leaves = true;
  return f;
}

/// One message of every kind, in the order of wire_message's alternatives.
std::vector<wire_message> samples() {
  auto donor = key_from(1);
  auto recipient = key_from(2);
  leaves l{100, std::vector<digest>(3)};
  for (size_t i = 0; i < l.digests.size(); ++i)
    l.digests[i].fill(static_cast<uint8_t>(i + 1));
  return {sample_request(),
          make_offer(sample_offer_fields(donor), donor),
          make_accept(sample_accept_fields(recipient), recipient),
          confirm{42},
          busy{42, 1500},
          decline{42, "no image with that root"},
          l,
          block_request{4000, 16},
          block_data{4001, test::random_bytes(4096, 9)},
          done{},
          abort_transfer{"block 17 failed verification"},
          refusal{protocol_version, "protocol version 3 is not supported (this node speaks 2)"},
          sample_notice(),
          node_request{3, 10, 4},
          nodes{3, 10, l.digests},
          holdings{{0, 4, 12}},
          make_fleet_query({7, sample_nonce(), "bmc-rack3-u17", recipient.public_part()}, recipient),
          *make_fleet_answer({7, sample_nonce(), "bmc-rack3-u18", donor.public_part(),
                              node_role::peer, {{"lan", true}},
                              {{"bios", "bios", "2.7.1", 7, digest{}, "idle", "", 0, 0}}},
                             donor, fleet_limits::max_datagram)};
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

std::string error_of(const wire_message& m) {
  return error_of(encode(m));
}

/// An envelope filled by hand, for encodings our encoder never writes.
std::vector<uint8_t> raw(const std::function<void(schema::Envelope::Builder)>& fill,
                         uint16_t version = protocol_version) {
  capnp::MallocMessageBuilder builder;
  auto env = builder.initRoot<schema::Envelope>();
  env.setProtocolVersion(version);
  fill(env);
  auto words = capnp::messageToFlatArray(builder);
  return {words.asBytes().begin(), words.asBytes().end()};
}

/// An offer whose signed body is filled by hand.
std::vector<uint8_t> raw_offer(const std::function<void(schema::OfferBody::Builder)>& fill) {
  capnp::MallocMessageBuilder body_builder;
  auto body = body_builder.initRoot<schema::SignedBody>().initOffer();
  auto f = sample_offer_fields(key_from(1));
  body.setNonce({f.challenge.data(), f.challenge.size()});
  body.setDonor(f.donor);
  body.setDonorKey({f.donor_key.bytes.data(), f.donor_key.bytes.size()});
  body.setSessionAddress(f.session_address);
  body.setManifestBody({f.manifest_body.data(), f.manifest_body.size()});
  body.initManifestSignature(64);
  fill(body);
  auto words = capnp::messageToFlatArray(body_builder);
  return raw([&](schema::Envelope::Builder env) {
    auto out = env.initOffer();
    out.setBody(words.asBytes());
    out.initSignature(64);
  });
}

} // namespace

TEST_CASE("every message kind survives encoding and decoding unchanged") {
  auto all = samples();
  REQUIRE(all.size() == std::variant_size_v<wire_message>);
  for (const auto& m : all) {
    INFO(kind_name(m));
    auto bytes = encode(m);
    auto decoded = decode(bytes);
    REQUIRE(decoded);
    CHECK(decoded->index() == m.index());
    CHECK(encode(*decoded) == bytes);
    // One segment: the segment table's first word says "one segment".
    CHECK(bytes[0] == 0);
  }

  auto r = round_trip(sample_request());
  CHECK(r.request_id == 42);
  CHECK(r.challenge == sample_nonce());
  CHECK(r.requester == "bmc-rack3-u17");
  CHECK(r.platform == platform_id{"Acme", "X11-DP"});
  CHECK(r.min_svn == 5);
  CHECK(r.revocation_serial == 11);
  auto n = round_trip(sample_notice());
  CHECK(n.list.fields == sample_notice().list.fields);
  CHECK(n.list.sig == sample_notice().list.sig);
  CHECK(encode(n).size() <= 1400); // a list travels in one datagram

  auto o = round_trip(std::get<offer>(all[1]));
  auto expected = sample_offer_fields(key_from(1));
  CHECK(o.body == std::get<offer>(all[1]).body);
  CHECK(o.sig == std::get<offer>(all[1]).sig);
  CHECK(o.fields.donor == expected.donor);
  CHECK(o.fields.donor_key == expected.donor_key);
  CHECK(o.fields.role == node_role::console);
  CHECK(o.fields.active_uploads == 1);
  CHECK(o.fields.max_uploads == 4);
  CHECK(o.fields.session_address == expected.session_address);
  CHECK(o.fields.manifest_body == expected.manifest_body);
  CHECK(o.fields.manifest_sig == expected.manifest_sig);
  CHECK(o.fields.revocation_serial == 12);

  auto a = round_trip(std::get<accept>(all[2]));
  CHECK(a.fields.recipient == "bmc-rack3-u17");
  CHECK(a.fields.recipient_key == key_from(2).public_part());
  CHECK(a.fields.merkle_root == sample_manifest().merkle_root);
  CHECK(a.fields.accepts_zstd);
  CHECK(a.fields.no_leaves);

  CHECK(round_trip(confirm{42}).request_id == 42);
  CHECK_FALSE(round_trip(confirm{42}).leaves_omitted);
  CHECK(round_trip(confirm{42, true}).leaves_omitted);
  auto b = round_trip(busy{43, 1500});
  CHECK((b.request_id == 43 && b.retry_after_ms == 1500));
  auto d = round_trip(decline{44, "busy elsewhere"});
  CHECK((d.request_id == 44 && d.reason == "busy elsewhere"));
  auto l = round_trip(std::get<leaves>(all[6]));
  CHECK(l.first == 100);
  CHECK(l.digests == std::get<leaves>(all[6]).digests);
  auto q = round_trip(block_request{4000, 16});
  CHECK((q.first == 4000 && q.count == 16));
  auto data = round_trip(std::get<block_data>(all[8]));
  CHECK(data.first == 4001);
  CHECK(data.bytes == std::get<block_data>(all[8]).bytes);
  CHECK(data.encoding == block_encoding::raw);
  CHECK(round_trip(block_data{1, {1, 2, 3}, block_encoding::zstd}).encoding
        == block_encoding::zstd);
  auto nr = round_trip(node_request{12, 4094, 2});
  CHECK((nr.level == 12 && nr.first == 4094 && nr.count == 2));
  auto nd = round_trip(std::get<nodes>(all[14]));
  CHECK((nd.level == 3 && nd.first == 10));
  CHECK(nd.digests == l.digests);
  CHECK(round_trip(abort_transfer{"stop"}).reason == "stop");
  auto f = round_trip(refusal{1, "nope"});
  CHECK((f.supported_version == 1 && f.reason == "nope"));
}

TEST_CASE("kind names match the protocol document") {
  std::vector<std::string> names;
  for (const auto& m : samples())
    names.push_back(kind_name(m));
  CHECK(names
        == std::vector<std::string>{"image_request", "offer", "accept", "confirm", "busy",
                                    "decline", "leaves", "block_request", "block_data", "done",
                                    "abort", "refusal", "revocations", "node_request", "nodes",
                                    "holdings", "fleet_query", "fleet_answer"});
}

TEST_CASE("a signed offer verifies, and fails when any signed field changes") {
  auto donor = key_from(1);
  auto original = make_offer(sample_offer_fields(donor), donor);
  auto decoded = round_trip(original);
  CHECK(verify_offer(original));
  CHECK(verify_offer(decoded));

  auto other_manifest = sample_manifest();
  other_manifest.svn = 8;
  std::vector<std::pair<const char*, std::function<void(offer_fields&)>>> changes{
    {"request_id", [](offer_fields& f) { f.request_id = 43; }},
    {"challenge", [](offer_fields& f) { f.challenge[0] ^= 1; }},
    {"donor", [](offer_fields& f) { f.donor = "bmc-rack3-u19"; }},
    {"donor_key", [](offer_fields& f) { f.donor_key = key_from(3).public_part(); }},
    {"role", [](offer_fields& f) { f.role = node_role::peer; }},
    {"active_uploads", [](offer_fields& f) { f.active_uploads = 0; }},
    {"max_uploads", [](offer_fields& f) { f.max_uploads = 100; }},
    {"session_address", [](offer_fields& f) { f.session_address = "10.0.0.66:7411"; }},
    {"manifest_body", [&](offer_fields& f) { f.manifest_body = encode_body(other_manifest); }},
    {"manifest_sig", [](offer_fields& f) { f.manifest_sig[5] ^= 1; }},
  };
  for (const auto& [field, change] : changes) {
    INFO("changed " << field);
    auto fields = sample_offer_fields(donor);
    change(fields);
    // Re-encode the body with the one change, keep the original signature.
    offer forged{make_offer(fields, key_from(9)).body, original.sig, {}};
    auto received = round_trip(forged);
    CHECK_FALSE(verify_offer(received));
  }

  SECTION("signed by another key than the one it names") {
    auto fields = sample_offer_fields(donor); // names key 1
    auto forged = make_offer(fields, key_from(3));
    CHECK_FALSE(verify_offer(round_trip(forged)));
  }
  SECTION("fields that are not the ones in the signed body") {
    auto tampered = original;
    tampered.fields.active_uploads = 0;
    CHECK_FALSE(verify_offer(tampered));
  }
}

TEST_CASE("a signed accept verifies, and fails when any signed field changes") {
  auto recipient = key_from(2);
  auto original = make_accept(sample_accept_fields(recipient), recipient);
  CHECK(verify_accept(original));
  CHECK(verify_accept(round_trip(original)));

  std::vector<std::pair<const char*, std::function<void(accept_fields&)>>> changes{
    {"request_id", [](accept_fields& f) { f.request_id = 1; }},
    {"challenge", [](accept_fields& f) { f.challenge[15] ^= 0x80; }},
    {"recipient", [](accept_fields& f) { f.recipient = "someone-else"; }},
    {"recipient_key", [](accept_fields& f) { f.recipient_key = key_from(3).public_part(); }},
    {"merkle_root", [](accept_fields& f) { f.merkle_root[31] ^= 1; }},
    {"donor_key", [](accept_fields& f) { f.donor_key = key_from(6).public_part(); }},
    {"accepts_zstd", [](accept_fields& f) { f.accepts_zstd = false; }},
    {"no_leaves", [](accept_fields& f) { f.no_leaves = false; }},
  };
  for (const auto& [field, change] : changes) {
    INFO("changed " << field);
    auto fields = sample_accept_fields(recipient);
    change(fields);
    accept forged{make_accept(fields, key_from(9)).body, original.sig, {}};
    CHECK_FALSE(verify_accept(round_trip(forged)));
  }
  auto other_key = make_accept(sample_accept_fields(recipient), key_from(3));
  CHECK_FALSE(verify_accept(round_trip(other_key)));
}

TEST_CASE("a node's signed accept cannot be passed off as its offer, nor the reverse") {
  auto key = key_from(1);
  auto a = make_accept(sample_accept_fields(key), key);
  auto o = make_offer(sample_offer_fields(key), key);
  CHECK_THAT(error_of(offer{a.body, a.sig, {}}), Catch::Contains("not an offer"));
  CHECK_THAT(error_of(accept{o.body, o.sig, {}}), Catch::Contains("not an accept"));
}

TEST_CASE("the request's id and nonce come back in the offer and the accept") {
  auto request = round_trip(sample_request());
  auto donor = key_from(1);
  auto fields = sample_offer_fields(donor);
  fields.request_id = request.request_id;
  fields.challenge = request.challenge;
  auto o = round_trip(make_offer(fields, donor));
  CHECK(o.fields.request_id == sample_request().request_id);
  CHECK(o.fields.challenge == sample_request().challenge);

  auto recipient = key_from(2);
  auto af = sample_accept_fields(recipient);
  af.request_id = o.fields.request_id;
  af.challenge = o.fields.challenge;
  auto a = round_trip(make_accept(af, recipient));
  CHECK(a.fields.request_id == sample_request().request_id);
  CHECK(a.fields.challenge == sample_request().challenge);
}

TEST_CASE("the offered manifest is the release-signed one, checked with the trusted keys") {
  auto release = key_from(7);
  auto m = sample_manifest();
  m.signer_key_id = release.public_part().id();
  auto donor = key_from(1);
  auto fields = sample_offer_fields(donor);
  fields.manifest_body = encode_body(m);
  fields.manifest_sig = release.sign(fields.manifest_body);
  auto o = round_trip(make_offer(fields, donor));

  auto offered = offered_manifest(o);
  REQUIRE(offered);
  CHECK(offered->fields == m);
  CHECK(offered->block_digests.empty());
  std::vector<public_key> trusted{release.public_part()};
  CHECK(check_signature(*offered, trusted));
  // The donor's node key signs the offer, but it is not a release key.
  std::vector<public_key> only_donor{donor.public_part()};
  CHECK_FALSE(check_signature(*offered, only_donor));
}

TEST_CASE("a message in another protocol version is refused by number, before its content") {
  for (uint16_t version : {0, 1, 3, 65535}) {
    INFO("version " << version);
    // The content is malformed too (a 33-byte digest list): the version must win.
    auto bytes = raw([](auto env) { env.initLeaves().initDigests(33); }, version);
    auto decoded = decode(bytes);
    REQUIRE_FALSE(decoded);
    CHECK(has_code(decoded.error(), errc::unsupported_version));
    CHECK(describe(decoded.error())
          == "protocol version " + std::to_string(version)
               + " is not supported (this node speaks 2)");
  }
}

TEST_CASE("a message kind from a newer peer is refused as unknown") {
  capnp::MallocMessageBuilder builder;
  auto env = builder.initRoot<schema::Envelope>();
  env.setProtocolVersion(protocol_version);
  env.initDone();
  // Write discriminant 30, which this schema does not know, where the schema keeps it.
  auto offset =
    capnp::Schema::from<schema::Envelope>().getProto().getStruct().getDiscriminantOffset();
  auto data = builder.getRoot<capnp::AnyStruct>().getDataSection();
  REQUIRE(data.size() >= offset * 2 + 2);
  data[offset * 2] = 30;
  data[offset * 2 + 1] = 0;
  auto words = capnp::messageToFlatArray(builder);
  CHECK_THAT(error_of({words.asBytes().begin(), words.asBytes().size()}),
             Catch::Contains("unknown message kind 30"));
}

TEST_CASE("random and mutated bytes never crash the decoder") {
  std::mt19937_64 gen{11};
  for (int i = 0; i < 3000; ++i) {
    auto n = std::uniform_int_distribution<size_t>{0, 400}(gen) & ~size_t{7};
    auto bytes = test::random_bytes(n, gen());
    if (i % 2 == 0 && n >= 16) { // a plausible single-segment table and root pointer
      std::fill(bytes.begin(), bytes.begin() + 4, 0);
      bytes[4] = static_cast<uint8_t>(n / 8 - 1);
      std::fill(bytes.begin() + 5, bytes.begin() + 8, 0);
    }
    auto decoded = decode(bytes);
    REQUIRE_FALSE(decoded);
    CHECK((has_code(decoded.error(), errc::malformed)
           || has_code(decoded.error(), errc::unsupported_version)));
  }
  // Flipped bytes in real messages get much further; they may even decode, but never crash.
  auto all = samples();
  for (int i = 0; i < 3000; ++i) {
    auto bytes = encode(all[static_cast<size_t>(i) % all.size()]);
    for (int flips = 0; flips < 3; ++flips)
      bytes[std::uniform_int_distribution<size_t>{0, bytes.size() - 1}(gen)] ^=
        static_cast<uint8_t>(1u << (gen() % 8));
    auto decoded = decode(bytes);
    if (!decoded)
      CHECK((has_code(decoded.error(), errc::malformed)
             || has_code(decoded.error(), errc::unsupported_version)));
  }
}

TEST_CASE("every truncation of every message kind is refused cleanly") {
  for (const auto& m : samples()) {
    auto bytes = encode(m);
    for (size_t len = 0; len < bytes.size(); ++len) {
      INFO(kind_name(m) << " cut to " << len << " bytes");
      CHECK_THAT(error_of(std::span{bytes}.first(len)),
                 Catch::StartsWith("malformed protocol message"));
    }
    INFO(kind_name(m));
    auto longer = bytes;
    longer.resize(bytes.size() + 8);
    CHECK_THAT(error_of(longer), Catch::Contains("8 bytes after its end"));
  }
}

TEST_CASE("a block of the largest size the manifest allows travels in one message") {
  block_data big{7, test::random_bytes(manifest_limits::max_block_size, 9)};
  auto decoded = decode(encode(big));
  REQUIRE(decoded);
  auto* b = std::get_if<block_data>(&*decoded);
  REQUIRE(b);
  CHECK(b->first == 7);
  CHECK(b->bytes == big.bytes);
}

TEST_CASE("lengths and values beyond the limits are refused with the field named") {
  using Catch::Contains;
  CHECK_THAT(error_of(raw([](auto env) { env.initLeaves().initDigests(33); })),
             Contains("leaves.digests is 33 bytes, not a multiple of 32"));
  CHECK_THAT(error_of(leaves{0, std::vector<digest>(wire_limits::max_leaves_per_message + 1)}),
             Contains("leaves.digests holds 16385 digests, the limit is 16384"));
  CHECK(decode(encode(leaves{0, std::vector<digest>(wire_limits::max_leaves_per_message)})));
  CHECK_THAT(error_of(leaves{0, {}}), Contains("leaves.digests is empty"));
  CHECK_THAT(error_of(leaves{~uint64_t{0}, std::vector<digest>(2)}), Contains("leaves.first"));

  auto request = sample_request();
  request.requester = std::string(wire_limits::max_text + 1, 'n');
  CHECK_THAT(error_of(request), Contains("image_request.requester is 257 bytes long"));
  request.requester = "node\x01";
  CHECK_THAT(error_of(request), Contains("image_request.requester holds characters other than"));
  request.requester = "";
  CHECK_THAT(error_of(request), Contains("image_request.requester is empty"));
  request = sample_request();
  request.platform.board = "X11\n";
  CHECK_THAT(error_of(request), Contains("image_request.platform.board holds"));
  CHECK_THAT(error_of(raw([](auto env) { env.initImageRequest().initNonce(15); })),
             Contains("image_request.nonce is 15 bytes, expected 16"));
  CHECK_THAT(error_of(decline{1, std::string(257, 'r')}), Contains("decline.reason is 257 bytes"));
  CHECK_THAT(error_of(abort_transfer{"bad\x7f"}), Contains("abort.reason holds"));
  CHECK_THAT(error_of(refusal{1, std::string(300, 'r')}), Contains("refusal.reason is 300"));

  auto oversized_block = block_data{0, std::vector<uint8_t>(manifest_limits::max_block_size + 1)};
  if constexpr (wire_limits::max_message > manifest_limits::max_block_size + 1024)
    CHECK_THAT(error_of(oversized_block), Contains("block_data.bytes is 1048577 bytes"));
  else // the whole message is over wire_limits::max_message before the field is read
    CHECK_THAT(error_of(oversized_block), Contains("the limit is"));
  CHECK_THAT(error_of(block_data{0, {}}), Contains("block_data.bytes is empty"));
  CHECK_THAT(error_of(block_request{0, 0}), Contains("block_request.count 0 is outside 1..1024"));
  CHECK_THAT(error_of(block_request{0, 5000}), Contains("block_request.count 5000 is outside"));
  CHECK(decode(encode(block_request{0, 1024})));
  CHECK_THAT(error_of(block_request{~uint64_t{0}, 2}), Contains("block_request.first"));
  CHECK_THAT(error_of(raw([](auto env) {
               auto b = env.initBlockData();
               b.initBytes(8);
               b.setEncoding(static_cast<schema::BlockEncoding>(2));
             })),
             Contains("block_data.encoding 2 is unknown"));

  CHECK_THAT(error_of(node_request{0, 0, 0}), Contains("node_request.count 0 is outside 1..16384"));
  CHECK_THAT(error_of(node_request{0, 0, 16385}), Contains("node_request.count 16385 is outside"));
  CHECK(decode(encode(node_request{63, 0, 16384})));
  CHECK_THAT(error_of(node_request{64, 0, 1}), Contains("node_request.level 64 is beyond"));
  CHECK_THAT(error_of(node_request{0, ~uint64_t{0}, 2}), Contains("node_request.first"));
  CHECK_THAT(error_of(raw([](auto env) { env.initNodes().initDigests(31); })),
             Contains("nodes.digests is 31 bytes, not a multiple of 32"));
  CHECK_THAT(error_of(nodes{0, 0, {}}), Contains("nodes.digests is empty"));
  CHECK_THAT(error_of(nodes{0, 0, std::vector<digest>(wire_limits::max_nodes_per_message + 1)}),
             Contains("nodes.digests holds 16385 digests, the limit is 16384"));
  CHECK(decode(encode(nodes{0, 0, std::vector<digest>(wire_limits::max_nodes_per_message)})));
  CHECK_THAT(error_of(nodes{200, 0, std::vector<digest>(1)}),
             Contains("nodes.level 200 is beyond"));
  CHECK_THAT(error_of(nodes{0, ~uint64_t{0}, std::vector<digest>(2)}), Contains("nodes.first"));
  CHECK_THAT(error_of(holdings{{}}), Contains("holdings.blocks is 0 bytes; expected 1..4096"));
  CHECK_THAT(error_of(holdings{std::vector<uint8_t>(4097, 1)}),
             Contains("holdings.blocks is 4097 bytes"));
  CHECK_THAT(error_of(raw_offer([](auto body) { body.initHolds(513); })),
             Contains("offer.holds is 513 bytes; at most 512"));

  CHECK_THAT(error_of(raw([](auto env) { env.initOffer().initSignature(63); })),
             Contains("offer.signature is 63 bytes, expected 64"));
  CHECK_THAT(error_of(raw_offer([](auto body) { body.initDonorKey(31); })),
             Contains("offer.donor_key is 31 bytes, expected 32"));
  CHECK_THAT(error_of(raw_offer([](auto body) { body.setRole(static_cast<schema::NodeRole>(7)); })),
             Contains("offer.role 7 is unknown"));
  CHECK_THAT(error_of(raw_offer([](auto body) { body.initManifestBody(40); })),
             Contains("offer.manifest_body: malformed manifest"));
  CHECK_THAT(error_of(raw_offer([](auto body) { body.setSessionAddress(""); })),
             Contains("offer.session_address is empty"));
  CHECK_THAT(error_of(raw_offer([](auto body) { body.initManifestSignature(0); })),
             Contains("offer.manifest_sig is 0 bytes"));
  CHECK_THAT(error_of(raw([](auto env) {
               env.initOffer().initBody(16 * 1024);
               env.getOffer().initSignature(64);
             })),
             Contains("offer.body is 16384 bytes, the limit is 8192"));

  CHECK_THAT(error_of(std::vector<uint8_t>(wire_limits::max_message + 8)),
             Contains(fmt::format("message is {} bytes, the limit is {}",
                                  wire_limits::max_message + 8, wire_limits::max_message)));
  CHECK_THAT(error_of(std::vector<uint8_t>(13)), Contains("not a whole number of 8-byte words"));
}

TEST_CASE("an image request and an offer with a real manifest each fit one datagram") {
  CHECK(encode(sample_request()).size() <= max_datagram);
  auto donor = key_from(1);
  CHECK(encode(make_offer(sample_offer_fields(donor), donor)).size() <= max_datagram);

  // Still true with every text at its limit.
  auto request = sample_request();
  request.requester = std::string(wire_limits::max_text, 'r');
  request.platform = {std::string(wire_limits::max_text, 'v'),
                      std::string(wire_limits::max_text, 'b')};
  request.component = std::string(manifest_limits::max_component, 'c');
  request.exclude_roots.assign(max_excluded_roots, digest{});
  CHECK(decode(encode(request)));
  CHECK(encode(request).size() <= max_datagram);

  auto m = sample_manifest();
  m.platform = {std::string(manifest_limits::max_text, 'v'),
                std::string(manifest_limits::max_text, 'b')};
  m.version = std::string(manifest_limits::max_text, '9');
  m.component = std::string(manifest_limits::max_component, 'c');
  m.format_version = manifest::format_version_for(m.component);
  auto fields = sample_offer_fields(donor);
  fields.donor = std::string(wire_limits::max_text, 'd');
  fields.session_address = std::string(wire_limits::max_text, 'a');
  fields.manifest_body = encode_body(m);
  auto largest = encode(make_offer(fields, donor));
  CHECK(decode(largest));
  CHECK(largest.size() <= max_datagram);
  INFO("largest request " << encode(request).size() << " bytes, largest offer " << largest.size());
  CHECK(largest.size() == 1272); // docs/protocol.md, section 4
  CHECK(encode(request).size() == 1280);
}

TEST_CASE("block data written in place encodes as encode() does, byte for byte") {
  for (size_t length : {size_t{1}, size_t{7}, size_t{8}, size_t{4096}, size_t{65536},
                        size_t{1} << 20}) {
    INFO("length " << length);
    auto bytes = test::random_bytes(length, length);
    auto in_place = encode_block_data(0x1234567890, length, [&](std::span<uint8_t> out) {
      REQUIRE(out.size() == length);
      std::copy(bytes.begin(), bytes.end(), out.begin());
      return caf::error{};
    });
    REQUIRE(in_place);
    CHECK(*in_place == encode(block_data{0x1234567890, bytes}));
    auto back = decode(*in_place);
    REQUIRE(back);
    auto* got = std::get_if<block_data>(&*back);
    REQUIRE(got);
    CHECK(got->first == 0x1234567890);
    CHECK(got->bytes == bytes);
  }
}

TEST_CASE("block data that cannot be read in place is no frame, but the reader's error") {
  auto frame = encode_block_data(3, 4096, [](std::span<uint8_t>) {
    return make_error(errc::io_failure, "image x: cannot read blocks 3..4");
  });
  REQUIRE_FALSE(frame);
  CHECK(describe(frame.error()) == "image x: cannot read blocks 3..4");
}

TEST_CASE("an image request names the images that failed to boot, at most eight of them") {
  auto req = sample_request();
  for (uint8_t i = 0; i < 3; ++i) {
    digest d{};
    d.fill(i);
    req.exclude_roots.push_back(d);
  }
  auto back = round_trip(req);
  CHECK(back.exclude_roots == req.exclude_roots);

  // A hand-made request with more roots, or a root of the wrong size, is refused by name.
  auto many = raw([](auto env) {
    auto r = env.initImageRequest();
    r.setNonce(capnp::Data::Reader(sample_nonce().data(), sample_nonce().size()));
    r.setRequester("x");
    r.initPlatform().setVendor("A");
    r.getPlatform().setBoard("B");
    auto roots = r.initExcludeRoots(9);
    std::array<uint8_t, 32> d{};
    for (unsigned i = 0; i < 9; ++i)
      roots.set(i, capnp::Data::Reader(d.data(), d.size()));
  });
  CHECK_THAT(error_of(many), Catch::Contains("exclude_roots holds 9 roots; at most 8"));
  auto short_root = raw([](auto env) {
    auto r = env.initImageRequest();
    r.setNonce(capnp::Data::Reader(sample_nonce().data(), sample_nonce().size()));
    r.setRequester("x");
    r.initPlatform().setVendor("A");
    r.getPlatform().setBoard("B");
    std::array<uint8_t, 31> d{};
    r.initExcludeRoots(1).set(0, capnp::Data::Reader(d.data(), d.size()));
  });
  CHECK_THAT(error_of(short_root), Catch::Contains("exclude_roots[] is 31 bytes, expected 32"));
}

TEST_CASE("an image request names its component; one from an earlier release asks for bios") {
  auto req = sample_request();
  CHECK(round_trip(req).component == "bios");
  req.component = "nic";
  CHECK(round_trip(req).component == "nic");
  req.component = std::string(32, 'x');
  CHECK(round_trip(req).component == req.component);

  // A node of an earlier release writes no component at all.
  auto fill = [](auto env) {
    auto r = env.initImageRequest();
    r.setNonce(capnp::Data::Reader(sample_nonce().data(), sample_nonce().size()));
    r.setRequester("x");
    r.initPlatform().setVendor("A");
    r.getPlatform().setBoard("B");
  };
  auto legacy = decode(raw(fill));
  REQUIRE(legacy);
  CHECK(std::get<image_request>(*legacy).component == "bios");

  for (const char* bad : {"", "NIC", "nic\n", "bios/1", "a-component-name-of-33-characters"}) {
    INFO(bad);
    auto bytes = raw([&](auto env) {
      fill(env);
      env.getImageRequest().setComponent(bad);
    });
    CHECK(error_of(bytes)
          == "malformed protocol message: image_request.component is not 1 to 32 characters of "
             "a-z, 0-9 and '-'");
  }
}
