// The web location over https against lighttpd with certificates made by openssl at test time:
// a CA file, a certificate that does not verify, a client certificate, and redirects.

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "sources/http_location.hpp"
#include "tests/sources/web_fixture.hpp"
#include "tests/support/web_server.hpp"

using namespace fwrescue;
using namespace fwrescue::test;

namespace {

/// Images served over https; the certificates live beside www/.
struct served_tls : web_images {
  test_pki pki{dir.path("")};
  lighttpd_server server;

  explicit served_tls(std::string extra = {}, bool ask_client_cert = false)
    : server{{.document_root = www(),
              .work_dir = dir.path(""),
              .cert_file = pki.server_cert,
              .key_file = pki.server_key,
              .client_ca_file = ask_client_cert ? pki.ca_file : std::string{},
              .extra_config = std::move(extra)}} {
  }

  http_source_config config(const std::string& path = "") const {
    http_source_config c;
    c.url = server.url() + "/" + path;
    c.ca_file = pki.ca_file;
    c.retries = 0;
    return c;
  }
};

void check_one_line(const caf::error& err, const std::string& starts, const std::string& has) {
  auto line = describe(err);
  CAPTURE(line);
  CHECK(line.starts_with(starts));
  CHECK(line.find(has) != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
}

} // namespace

TEST_CASE("an https location lists and reads with the configured CA", "[unit]") {
  served_tls s;
  auto image = s.add_image("bios.fd", 100'000, 7);
  s.put("index", "bios.fd.fwm\n");
  http_location location{s.config()};
  std::vector<std::string> skipped;
  auto images = location.list(skipped);
  REQUIRE(images);
  REQUIRE(images->size() == 1);
  CHECK(skipped.empty());
  std::vector<byte_run> runs{{5, 5000}, {60'000, 40'000}};
  collecting_sink got;
  REQUIRE_FALSE(location.read(images->front(), runs, got.sink()));
  got.check(image, runs);
  CHECK(location.connections_opened() == 1);
}

TEST_CASE("a server certificate that does not verify fails the listing in one line", "[unit]") {
  served_tls s;
  s.put("index", "bios.fd.fwm\n");
  auto config = s.config();
  SECTION("a CA that did not sign it") {
    config.ca_file = s.pki.other_ca_file;
  }
  SECTION("the system's CAs") {
    config.ca_file.clear();
  }
  http_location location{config};
  std::vector<std::string> skipped;
  auto images = location.list(skipped);
  REQUIRE_FALSE(images);
  check_one_line(images.error(), "http " + s.server.url() + "/index: ",
                 "SSL certificate problem: unable to get local issuer certificate");
}

TEST_CASE("a server that asks for a client certificate gets the configured one", "[unit]") {
  served_tls s{{}, true};
  s.add_image("bios.fd", 10'000, 8);
  s.put("index", "bios.fd.fwm\n");
  std::vector<std::string> skipped;

  http_location without{s.config()};
  auto refused = without.list(skipped);
  REQUIRE_FALSE(refused);
  check_one_line(refused.error(), "http " + s.server.url() + "/index: ", "certificate required");

  auto config = s.config();
  config.client_cert = s.pki.client_cert;
  config.client_key = s.pki.client_key;
  http_location with{config};
  auto images = with.list(skipped);
  REQUIRE(images);
  CHECK(images->size() == 1);
}

TEST_CASE("redirects are followed to https and refused to plain http", "[unit]") {
  served_tls s{"url.redirect = (\"^/old/(.*)$\" => \"https://127.0.0.1:$PORT/$1\",\n"
               "                \"^/plain/(.*)$\" => \"http://127.0.0.1:$PORT/$1\",\n"
               "                \"^/loop/(.*)$\" => \"https://127.0.0.1:$PORT/loop/$1\")\n"
               "server.modules += (\"mod_redirect\")"};
  auto image = s.add_image("bios.fd", 50'000, 9);
  s.put("index", "bios.fd.fwm\n");
  std::vector<std::string> skipped;

  http_location moved{s.config("old")};
  auto images = moved.list(skipped);
  REQUIRE(images);
  REQUIRE(images->size() == 1);
  CHECK(images->front().where == s.server.url() + "/old/bios.fd");
  std::vector<byte_run> runs{{1000, 2000}};
  collecting_sink got;
  REQUIRE_FALSE(moved.read(images->front(), runs, got.sink()));
  got.check(image, runs);

  http_location downgraded{s.config("plain")};
  auto refused = downgraded.list(skipped);
  REQUIRE_FALSE(refused);
  check_one_line(refused.error(), "http " + s.server.url() + "/plain/index: ",
                 "redirected to http://127.0.0.1:" + std::to_string(s.server.port())
                   + "/index, which is not allowed (https only)");

  http_location looping{s.config("loop")};
  refused = looping.list(skipped);
  REQUIRE_FALSE(refused);
  check_one_line(refused.error(),
                 "http " + s.server.url() + "/loop/index: ", "Maximum (3) redirects followed");
}
