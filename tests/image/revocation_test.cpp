#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "image/revocation.hpp"
#include "messages/revocation.hpp"

using namespace fwrescue;

namespace {

revocation_list list_of(uint64_t serial, std::vector<raw_key> keys = {},
                        std::vector<digest> roots = {}) {
  revocation_list r;
  r.serial = serial;
  r.created_at = 1795000000;
  r.keys = std::move(keys);
  r.roots = std::move(roots);
  return r;
}

digest root_of(uint8_t fill) {
  digest d;
  d.fill(fill);
  return d;
}

} // namespace

TEST_CASE("a revocation list survives its file form and its signature checks out") {
  auto key = secret_key::generate();
  auto stolen = secret_key::generate();
  auto signed_list = sign_revocations(key, list_of(7, {stolen.public_part().bytes}, {root_of(3)}));
  REQUIRE(signed_list);
  auto bytes = encode_revocations_file(*signed_list);
  CHECK(bytes.size() <= revocation_limits::max_file_bytes);
  auto back = decode_revocations_file(bytes);
  REQUIRE(back);
  CHECK(back->fields == signed_list->fields);
  auto signer = check_revocations(*back, std::vector{key.public_part()});
  REQUIRE(signer);
  CHECK(*signer == key.public_part());
  CHECK(revokes(back->fields, stolen.public_part()));
  CHECK_FALSE(revokes(back->fields, key.public_part()));
}

TEST_CASE("a full list still fits one datagram") {
  auto key = secret_key::generate();
  std::vector<raw_key> keys(16);
  std::vector<digest> roots(16);
  auto signed_list = sign_revocations(key, list_of(1, keys, roots));
  REQUIRE(signed_list);
  CHECK(encode_revocations_file(*signed_list).size() <= 1300);
  keys.push_back({});
  CHECK_FALSE(sign_revocations(key, list_of(1, keys, roots)));
}

TEST_CASE("malformed and foreign lists are refused, naming what is wrong") {
  auto key = secret_key::generate();
  auto good = encode_revocations_file(*sign_revocations(key, list_of(2)));
  SECTION("not a list") {
    auto bad = good;
    bad[0] = 'X';
    auto r = decode_revocations_file(bad);
    REQUIRE_FALSE(r);
    CHECK_THAT(describe(r.error()), Catch::Contains("not a revocation list"));
  }
  SECTION("cut short") {
    auto r = decode_revocations_file(std::span{good}.first(good.size() - 8));
    REQUIRE_FALSE(r);
    CHECK(has_code(r.error(), errc::malformed));
  }
  SECTION("a tampered body does not verify") {
    auto r = decode_revocations_file(good);
    REQUIRE(r);
    auto tampered = r->fields;
    tampered.serial = 99;
    r->body = *encode_revocation_body(tampered);
    r->fields = tampered;
    auto signer = check_revocations(*r, std::vector{key.public_part()});
    REQUIRE_FALSE(signer);
    CHECK(has_code(signer.error(), errc::bad_signature));
  }
  SECTION("a key not allowed to sign lists") {
    auto r = decode_revocations_file(good);
    auto other = secret_key::generate();
    auto signer = check_revocations(*r, std::vector{other.public_part()});
    REQUIRE_FALSE(signer);
    CHECK(has_code(signer.error(), errc::unknown_key));
  }
}

TEST_CASE("a newer list replaces the stored one only if its signer is not revoked") {
  auto a = secret_key::generate();
  auto b = secret_key::generate();
  std::vector trusted{a.public_part(), b.public_part()};
  // Key a is found stolen: b revokes it in list 5.
  auto stored = sign_revocations(b, list_of(5, {a.public_part().bytes}));
  REQUIRE(stored);
  std::optional<signed_revocations> held = *stored;
  SECTION("a newer list from b is taken") {
    CHECK_FALSE(check_newer_revocations(held, *sign_revocations(b, list_of(6)), trusted));
  }
  SECTION("an older or equal one is stale") {
    auto err = check_newer_revocations(held, *sign_revocations(b, list_of(5)), trusted);
    CHECK(has_code(err, errc::stale));
  }
  SECTION("the thief cannot undo it, nor revoke b, however high the serial") {
    auto forged = sign_revocations(a, list_of(1000, {b.public_part().bytes}));
    auto err = check_newer_revocations(held, *forged, trusted);
    REQUIRE(err);
    CHECK_THAT(describe(err), Catch::Contains("which list 5 revokes"));
  }
  SECTION("a list naming its own signer is refused") {
    auto err = check_newer_revocations(std::nullopt,
                                       *sign_revocations(a, list_of(9, {a.public_part().bytes})),
                                       trusted);
    REQUIRE(err);
    CHECK_THAT(describe(err), Catch::Contains("which it revokes"));
  }
}
