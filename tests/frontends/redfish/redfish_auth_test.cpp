// HTTP Basic authentication against the credentials file: the right password lets in, a wrong
// one or a malformed header does not, and what a flood of wrong passwords costs is bounded.

#include <catch2/catch.hpp>
#include <sodium.h>

#include "common/error.hpp"
#include "frontends/redfish/basic_auth.hpp"
#include "frontends/redfish/credentials.hpp"

using namespace fwrescue;
using namespace fwrescue::redfish;

namespace {

std::string basic(std::string_view user_password) {
  std::string out(sodium_base64_ENCODED_LEN(user_password.size(), sodium_base64_VARIANT_ORIGINAL),
                  '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(user_password.data()),
                    user_password.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1); // the terminating NUL
  return "Basic " + out;
}

credentials two_users() {
  auto a = password_line("admin", "s3cret").value();
  auto b = password_line("ops", "other").value();
  return credentials::parse("# operators\n" + a + "\n\n" + b + "\n", "creds").value();
}

} // namespace

TEST_CASE("passwd lines verify their own password and no other", "[unit]") {
  auto c = two_users();
  CHECK(c.size() == 2);
  CHECK(c.verify("admin", "s3cret"));
  CHECK(c.verify("ops", "other"));
  CHECK_FALSE(c.verify("admin", "other"));
  CHECK_FALSE(c.verify("nobody", "s3cret"));
  CHECK_FALSE(c.verify("admin", ""));
}

TEST_CASE("passwd refuses user names and passwords the file cannot hold", "[unit]") {
  CHECK_FALSE(password_line("", "x"));
  CHECK_FALSE(password_line("a:b", "x"));
  CHECK_FALSE(password_line("admin", ""));
  CHECK_FALSE(password_line("admin", std::string(257, 'x')));
}

TEST_CASE("a bad credentials file is refused naming the file and line", "[unit]") {
  auto good = password_line("admin", "pw").value();
  auto fails_with = [](std::string text, std::string_view what) {
    auto c = credentials::parse(text, "creds");
    REQUIRE_FALSE(c);
    INFO(describe(c.error()));
    CHECK(describe(c.error()).find(what) != std::string::npos);
  };
  fails_with("", "creds: lists no user");
  fails_with("admin\n", "creds:1: expected user:HASH");
  fails_with("# x\nadmin:plaintext\n", "creds:2: the hash is not an Argon2id hash");
  fails_with(good + "\n" + good + "\n", "creds:2: user 'admin' is listed twice");
  // A hash asking for 1 GiB per check would make every failed login cost that.
  fails_with("admin:$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA\n",
             "more than 64 MiB");
}

TEST_CASE("the right password lets in, and is then remembered without another check", "[unit]") {
  basic_auth auth{two_users()};
  auto now = basic_auth::clock::now();
  CHECK(auth.check(basic("admin:s3cret"), "10.0.0.1", now) == basic_auth::verdict::allowed);
  CHECK(auth.checks() == 1);
  for (int i = 0; i < 10; ++i)
    CHECK(auth.check(basic("admin:s3cret"), "10.0.0.1", now) == basic_auth::verdict::allowed);
  CHECK(auth.checks() == 1);
  // Remembered for a minute, then checked again.
  auto later = now + std::chrono::seconds(61);
  CHECK(auth.check(basic("admin:s3cret"), "10.0.0.1", later) == basic_auth::verdict::allowed);
  CHECK(auth.checks() == 2);
}

TEST_CASE("wrong passwords, missing and malformed headers are refused", "[unit]") {
  basic_auth auth{two_users()};
  auto t = basic_auth::clock::now();
  auto step = std::chrono::seconds(5); // past the rate limit each time
  CHECK(auth.check("", "c", t) == basic_auth::verdict::refused);
  CHECK(auth.check(basic("admin:wrong"), "c", t += step) == basic_auth::verdict::refused);
  CHECK(auth.check(basic("nobody:s3cret"), "c", t += step) == basic_auth::verdict::refused);
  CHECK(auth.check("Basic !!!notbase64", "c", t += step) == basic_auth::verdict::refused);
  CHECK(auth.check(basic("no-colon"), "c", t += step) == basic_auth::verdict::refused);
  CHECK(auth.check("Bearer abc", "c", t += step) == basic_auth::verdict::refused);
  // A refusal is not remembered as a pass.
  CHECK(auth.check(basic("admin:wrong"), "c", t += step) == basic_auth::verdict::refused);
}

TEST_CASE("a flood of wrong passwords costs a few checks a second", "[unit]") {
  basic_auth auth{two_users()};
  auto now = basic_auth::clock::now();
  int throttled = 0;
  for (int i = 0; i < 50; ++i)
    if (auth.check(basic("admin:guess" + std::to_string(i)), "10.0.0.9", now)
        == basic_auth::verdict::throttled)
      ++throttled;
  // A burst of two per client, then nothing until the bucket refills.
  CHECK(auth.checks() == 2);
  CHECK(throttled == 48);
  // Another client is not shut out by the first one's flood...
  CHECK(auth.check(basic("admin:s3cret"), "10.0.0.2", now) == basic_auth::verdict::allowed);
  // ... and a second later the flooding client may try again.
  CHECK(auth.check(basic("admin:s3cret"), "10.0.0.9", now + std::chrono::seconds(1))
        == basic_auth::verdict::allowed);
}
