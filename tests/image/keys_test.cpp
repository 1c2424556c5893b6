#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "common/error.hpp"
#include "image/keys.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

TEST_CASE("key files round-trip and the pair still signs and verifies") {
  auto key = secret_key::generate();
  auto pub = parse_public_key(to_file_text(key.public_part()));
  REQUIRE(pub);
  CHECK(*pub == key.public_part());
  auto again = parse_secret_key(key.to_file_text());
  REQUIRE(again);
  CHECK(again->public_part() == key.public_part());
  std::vector<uint8_t> message{1, 2, 3};
  CHECK(verify_signature(*pub, message, again->sign(message)));
  message[0] = 9;
  CHECK_FALSE(verify_signature(*pub, message, again->sign({})));
}

TEST_CASE("key ids differ between keys and are stable for one key") {
  auto a = secret_key::generate();
  auto b = secret_key::generate();
  CHECK(a.public_part().id() == a.public_part().id());
  CHECK(a.public_part().id() != b.public_part().id());
}

TEST_CASE("malformed key files are refused with a reason") {
  auto key = secret_key::generate();
  auto text = to_file_text(key.public_part());
  CHECK_FALSE(parse_public_key(""));
  CHECK_FALSE(parse_public_key(text.substr(0, text.size() - 3)));
  CHECK_FALSE(parse_public_key("fwrescue-ed25519-public zz" + text.substr(26)));
  auto as_secret = parse_secret_key(text);
  REQUIRE_FALSE(as_secret);
  CHECK_THAT(describe(as_secret.error()),
             Catch::Contains("does not start with \"fwrescue-ed25519-secret \""));
  auto as_public = parse_public_key(key.to_file_text());
  REQUIRE_FALSE(as_public);
  CHECK(has_code(as_public.error(), errc::malformed));
}

TEST_CASE("loading a key names the file on failure") {
  test::temp_dir dir;
  auto missing = load_public_key(dir.path("nope.pub"));
  REQUIRE_FALSE(missing);
  CHECK_THAT(describe(missing.error()), Catch::Contains("nope.pub: cannot open"));
  test::write_bytes(dir.path("junk.pub"), test::random_bytes(50, 1));
  auto junk = load_public_key(dir.path("junk.pub"));
  REQUIRE_FALSE(junk);
  CHECK_THAT(describe(junk.error()), Catch::Contains("junk.pub: not a public key file"));
  test::write_bytes(dir.path("huge.pub"), test::random_bytes(5000, 1));
  auto huge = load_public_key(dir.path("huge.pub"));
  REQUIRE_FALSE(huge);
  CHECK_THAT(describe(huge.error()), Catch::Contains("larger than the limit"));
}
