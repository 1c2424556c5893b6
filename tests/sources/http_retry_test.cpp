// The web location against a server that misbehaves on purpose (flaky_server): connections cut
// or stalled halfway, busy answers, a lying Content-Range, nobody listening. Reads complete
// through retries that resume at the last byte received, and no byte reaches the sink twice.

#include <catch2/catch.hpp>

#include <chrono>

#include "common/error.hpp"
#include "sources/http_location.hpp"
#include "tests/sources/flaky_server.hpp"
#include "tests/sources/web_fixture.hpp"
#include "tests/support/web_server.hpp"

using namespace fwrescue;
using namespace fwrescue::test;

namespace {

http_source_config config_for(const flaky_server& server) {
  http_source_config c;
  c.url = server.url("");
  c.allow_http = true;
  c.retries = 3;
  c.backoff_initial_ms = 10;
  c.stall_timeout_s = 1;
  return c;
}

located_image image_at(const flaky_server& server) {
  return {server.url("bios.fd"), {}};
}

} // namespace

TEST_CASE("a range cut halfway is resumed from its last byte", "[unit]") {
  auto image = random_bytes(200'000, 11);
  flaky_server server{{.body = image, .cut_first = 1}};
  http_location location{config_for(server)};
  std::vector<byte_run> runs{{0, 64'000}, {100'000, 50'000}};
  collecting_sink got;
  REQUIRE_FALSE(location.read(image_at(server), runs, got.sink()));
  got.check(image, runs);
  CHECK(server.ranges_asked()
        == std::vector<std::string>{"bytes=0-63999", "bytes=32000-63999", "bytes=100000-149999"});
  CHECK(server.connections() == 2);
}

TEST_CASE("a whole image cut halfway is read again and only new bytes reach the sink", "[unit]") {
  auto image = random_bytes(300'000, 12);
  flaky_server server{{.body = image, .ranges = false, .cut_first = 1}};
  http_location location{config_for(server)};
  // The cut at 150 000 falls inside the second run.
  std::vector<byte_run> runs{{1000, 1000}, {140'000, 20'000}, {250'000, 4096}};
  collecting_sink got;
  REQUIRE_FALSE(location.read(image_at(server), runs, got.sink()));
  got.check(image, runs);
  // The first try asked for a range and got the whole image; the retry does not ask again.
  CHECK(server.ranges_asked() == std::vector<std::string>{"bytes=1000-1999", ""});
}

TEST_CASE("a stalled transfer is cut after stall_timeout_s and resumed", "[unit]") {
  auto image = random_bytes(100'000, 13);
  flaky_server server{{.body = image, .stall_first = 1}};
  http_location location{config_for(server)};
  std::vector<byte_run> runs{{0, 100'000}};
  collecting_sink got;
  auto start = std::chrono::steady_clock::now();
  REQUIRE_FALSE(location.read(image_at(server), runs, got.sink()));
  auto took = std::chrono::steady_clock::now() - start;
  got.check(image, runs);
  CHECK(server.ranges_asked() == std::vector<std::string>{"bytes=0-99999", "bytes=50000-99999"});
  CHECK(took >= std::chrono::seconds(1));
  CHECK(took < std::chrono::seconds(10));
}

TEST_CASE("busy answers are tried again with a doubling backoff", "[unit]") {
  auto image = random_bytes(10'000, 14);
  flaky_server server{{.body = image, .busy_first = 2}};
  auto config = config_for(server);
  config.backoff_initial_ms = 100;
  http_location location{config};
  std::vector<byte_run> runs{{0, 10'000}};
  collecting_sink got;
  auto start = std::chrono::steady_clock::now();
  REQUIRE_FALSE(location.read(image_at(server), runs, got.sink()));
  got.check(image, runs);
  CHECK(server.ranges_asked().size() == 3);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
}

TEST_CASE("a read whose tries are spent fails in one line", "[unit]") {
  auto image = random_bytes(10'000, 15);
  flaky_server server{{.body = image, .busy_first = 100}};
  auto config = config_for(server);
  config.retries = 2;
  http_location location{config};
  std::vector<byte_run> runs{{0, 10'000}};
  collecting_sink got;
  auto err = location.read(image_at(server), runs, got.sink());
  CHECK(describe(err) == "http " + server.url("bios.fd") + ": HTTP 503");
  CHECK(server.ranges_asked().size() == 3);
  CHECK(got.runs.empty());
}

TEST_CASE("a Content-Range other than the one asked fails the read without a retry", "[unit]") {
  auto image = random_bytes(10'000, 16);
  flaky_server server{{.body = image, .range_shift = 1}};
  http_location location{config_for(server)};
  std::vector<byte_run> runs{{100, 200}};
  collecting_sink got;
  auto err = location.read(image_at(server), runs, got.sink());
  CHECK(describe(err)
        == "http " + server.url("bios.fd")
             + ": asked for bytes 100-299, got Content-Range 'bytes 101-300/10000'");
  CHECK(has_code(err, errc::malformed));
  CHECK(server.ranges_asked().size() == 1);
  CHECK(got.runs.empty());
}

TEST_CASE("an index cut halfway is resumed with a range", "[unit]") {
  std::string index = "# the images of this server\nbios.fd.fwm\n";
  flaky_server server{{.body = {index.begin(), index.end()}, .cut_first = 1}};
  http_location location{config_for(server)};
  std::vector<std::string> skipped;
  auto images = location.list(skipped);
  REQUIRE(images);
  CHECK(images->empty());
  auto asked = server.ranges_asked();
  REQUIRE(asked.size() >= 2);
  CHECK(asked[0] == "");
  CHECK(asked[1] == "bytes=" + std::to_string(index.size() / 2) + "-");
  // The server answers every path with the index, which is no manifest.
  CHECK(skipped
        == std::vector<std::string>{server.url("bios.fd.fwm")
                                    + ": not a manifest (it does not start with \"FWRMANIF\")"});
}

TEST_CASE("nobody listening fails the listing after the retries, in one line", "[unit]") {
  http_source_config config;
  config.url = "http://127.0.0.1:" + std::to_string(free_loopback_port()) + "/x";
  config.allow_http = true;
  config.retries = 2;
  config.backoff_initial_ms = 50;
  http_location location{config};
  std::vector<std::string> skipped;
  auto start = std::chrono::steady_clock::now();
  auto images = location.list(skipped);
  REQUIRE_FALSE(images);
  // 50 ms, then 100 ms.
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(150));
  auto line = describe(images.error());
  CAPTURE(line);
  CHECK(line.starts_with("http " + config.url + "/index: "));
  CHECK(line.find("onnect") != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
}
