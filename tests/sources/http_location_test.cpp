// The web location against a real lighttpd on loopback: listing through an index, ranged reads
// over one connection, and a server with ranges turned off.

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "sources/http_location.hpp"
#include "tests/sources/web_fixture.hpp"
#include "tests/support/web_server.hpp"

using namespace fwrescue;
using namespace fwrescue::test;

namespace {

/// Images served over plain http by lighttpd, with or without range requests.
struct served : web_images {
  lighttpd_server server;

  explicit served(bool ranges = true, std::string extra = {})
    : server{{.document_root = www(),
              .work_dir = dir.path(""),
              .ranges = ranges,
              .extra_config = std::move(extra)}} {
  }

  http_source_config config(const std::string& path = "") const {
    http_source_config c;
    c.url = server.url() + "/" + path;
    c.allow_http = true;
    c.retries = 1;
    c.backoff_initial_ms = 10;
    return c;
  }
};

/// Runs spread over an image of `size` bytes, the last one ending at its last byte.
std::vector<byte_run> spread_runs(uint64_t size) {
  return {{0, 4096}, {3 * 4096 + 17, 9000}, {100'000, 1}, {200'000, 65536}, {size - 5000, 5000}};
}

} // namespace

TEST_CASE("a web location lists the images its index names and says why it skipped others",
          "[unit]") {
  // lighttpd answers page.fwm as an HTML page, as a misconfigured server would.
  served s{true, "$HTTP[\"url\"] =~ \"^/page\" { mimetype.assign = (\"\" => \"text/html\") }"};
  s.add_image("bios-a.fd", 20'000, 1);
  s.add_image("sub/bios-b.fd", 9000, 2);
  s.put("page.fwm", "<!DOCTYPE html><html><body>Not here</body></html>");
  s.put("garbage.fwm", std::string(100, 'x'));
  s.put("index", "# images for X11\nbios-a.fd.fwm\n\nsub/bios-b.fd.fwm\nmissing.fwm\npage.fwm\n"
                 "garbage.fwm\n../etc/passwd.fwm\nhttps://evil.example/x.fwm\n/abs.fwm\n");
  auto base = s.server.url();
  auto location = make_http_location(s.config());
  REQUIRE(location);

  std::vector<std::string> skipped;
  auto images = (*location)->list(skipped);
  REQUIRE(images);
  REQUIRE(images->size() == 2);
  CHECK((*images)[0].where == base + "/bios-a.fd");
  CHECK((*images)[1].where == base + "/sub/bios-b.fd");
  const auto& signed_a = s.manifests["bios-a.fd"];
  CHECK((*images)[0].manifest.body == signed_a.body);
  CHECK((*images)[0].manifest.sig == signed_a.sig);
  CHECK((*images)[0].manifest.fields == signed_a.fields);
  CHECK((*images)[0].manifest.block_digests == signed_a.block_digests);
  CHECK((*images)[1].manifest.fields.version == "sub/bios-b.fd");
  auto index = base + "/index";
  CHECK(skipped
        == std::vector<std::string>{
          index + " line 8: '../etc/passwd.fwm' has a '..' segment",
          index + " line 9: 'https://evil.example/x.fwm' has a scheme",
          index + " line 10: '/abs.fwm' is absolute",
          base + "/missing.fwm: HTTP 404",
          base + "/page.fwm: an HTML page, not a manifest",
          base + "/garbage.fwm: not a manifest (it does not start with \"FWRMANIF\")",
        });
  // The index, both manifests and the failures came over one connection.
  auto* http = dynamic_cast<http_location*>(location->get());
  REQUIRE(http);
  CHECK(http->connections_opened() == 1);
  CHECK(http->bytes_read() > s.manifests["bios-a.fd"].body.size());
}

TEST_CASE("an index that is missing fails the listing in one line", "[unit]") {
  served s;
  http_location location{s.config("images/")};
  std::vector<std::string> skipped;
  auto images = location.list(skipped);
  REQUIRE_FALSE(images);
  CHECK(describe(images.error()) == "http " + s.server.url() + "/images/index: HTTP 404");
  CHECK(skipped.empty());
}

TEST_CASE("an index larger than its bound is refused when its length is announced", "[unit]") {
  served s;
  s.put("index", std::string(4 * location_limits::max_index_bytes, '#'));
  http_location location{s.config()};
  std::vector<std::string> skipped;
  auto images = location.list(skipped);
  REQUIRE_FALSE(images);
  CHECK(describe(images.error())
        == "http " + s.server.url()
             + "/index: an index of 262144 bytes, more than the 65536 "
               "allowed");
  // The answer's first pieces, not the whole of it.
  CHECK(location.bytes_read() < location_limits::max_index_bytes);
}

TEST_CASE("ranges of an image arrive byte for byte over one connection", "[unit]") {
  served s;
  auto image = s.add_image("bios.fd", 1'000'003, 3);
  s.put("index", "bios.fd.fwm\n");
  http_location location{s.config()};
  std::vector<std::string> skipped;
  auto images = location.list(skipped);
  REQUIRE(images);
  REQUIRE(images->size() == 1);
  auto before = location.bytes_read();

  auto runs = spread_runs(image.size());
  collecting_sink got;
  REQUIRE_FALSE(location.read(images->front(), runs, got.sink()));
  got.check(image, runs);
  CHECK(location.connections_opened() == 1);
  // The runs' bytes and a few hundred bytes of headers per run, nothing more.
  auto read = location.bytes_read() - before;
  CHECK(read >= total_length(runs));
  CHECK(read < total_length(runs) + runs.size() * 512);
}

TEST_CASE("a server without ranges is read once per read and only the runs reach the sink",
          "[unit]") {
  served s{false};
  auto image = s.add_image("bios.fd", 1'000'003, 4);
  s.put("index", "bios.fd.fwm\n");
  http_location location{s.config()};
  std::vector<std::string> skipped;
  auto images = location.list(skipped);
  REQUIRE(images);
  auto before = location.bytes_read();

  auto runs = spread_runs(image.size());
  collecting_sink got;
  REQUIRE_FALSE(location.read(images->front(), runs, got.sink()));
  got.check(image, runs);
  // Once, not once per run (5 runs would be 5 MB).
  auto read = location.bytes_read() - before;
  CHECK(read >= image.size());
  CHECK(read < image.size() + 1024);

  SECTION("and a read that needs only the start stops early") {
    before = location.bytes_read();
    std::vector<byte_run> head{{0, 4096}, {8192, 4096}};
    collecting_sink first;
    REQUIRE_FALSE(location.read(images->front(), head, first.sink()));
    first.check(image, head);
    CHECK(location.bytes_read() - before < image.size() / 2);
  }
}

TEST_CASE("a sink's error stops a read at once and is returned as it is", "[unit]") {
  auto ranges = GENERATE(true, false);
  CAPTURE(ranges);
  served s{ranges};
  auto image = s.add_image("bios.fd", 300'000, 5);
  http_location location{s.config()};
  located_image where{s.server.url() + "/bios.fd", s.manifests["bios.fd"]};
  std::vector<byte_run> runs{{0, 4096}, {50'000, 4096}, {100'000, 4096}};
  bool failed = false;
  bool called_after_failing = false;
  auto err = location.read(where, runs, [&](uint64_t offset, auto) -> caf::error {
    called_after_failing |= failed;
    if (offset >= 50'000) {
      failed = true;
      return make_error(errc::content_mismatch, "block 12 does not match its digest");
    }
    return {};
  });
  CHECK(has_code(err, errc::content_mismatch));
  CHECK(describe(err) == "block 12 does not match its digest");
  CHECK(failed);
  CHECK_FALSE(called_after_failing);
}

TEST_CASE("a read refuses an image that is not under its base URL", "[unit]") {
  served s;
  http_location location{s.config("images")};
  located_image elsewhere{s.server.url() + "/imagesX/bios.fd", {}};
  std::vector<byte_run> runs{{0, 1}};
  auto err = location.read(elsewhere, runs, [](uint64_t, auto) { return caf::error{}; });
  CHECK(has_code(err, errc::invalid_argument));
  CHECK(describe(err).starts_with("http: image '" + s.server.url() + "/imagesX/bios.fd'"));
}

TEST_CASE("an image shorter than its runs fails the read", "[unit]") {
  auto ranges = GENERATE(true, false);
  CAPTURE(ranges);
  served s{ranges};
  s.put("short.fd", std::string(1000, 'x'));
  http_location location{s.config()};
  located_image image{s.server.url() + "/short.fd", {}};
  std::vector<byte_run> runs{{0, 100}, {900, 200}};
  collecting_sink got;
  auto err = location.read(image, runs, got.sink());
  REQUIRE(err);
  CAPTURE(describe(err));
  CHECK(describe(err).starts_with("http " + image.where + ": "));
  CHECK(describe(err).find('\n') == std::string::npos);
}

TEST_CASE("a location of one image by URL lists that image alone, without an index", "[unit]") {
  served s;
  s.add_image("sub/bios-a.fd", 20'000, 1);
  auto image = s.add_image("sub/bios-b.fd", 9000, 2);
  // No index at all: a location of one image never asks for one.
  auto base = s.server.url();
  auto location = make_http_image_location(s.config(), base + "/sub/bios-b.fd");
  REQUIRE(location);
  std::vector<std::string> skipped;
  auto images = (*location)->list(skipped);
  REQUIRE(images);
  CHECK(skipped.empty());
  REQUIRE(images->size() == 1);
  CHECK(images->front().where == base + "/sub/bios-b.fd");
  CHECK(images->front().manifest.fields.version == "sub/bios-b.fd");
  collecting_sink got;
  REQUIRE_FALSE((*location)->read(images->front(), std::vector<byte_run>{{0, 9000}}, got.sink()));
  CHECK(got.runs.at(0) == image);
  // Named by its manifest, the same image.
  location = make_http_image_location(s.config(), base + "/sub/bios-b.fd.fwm");
  REQUIRE(location);
  images = (*location)->list(skipped);
  REQUIRE(images);
  REQUIRE(images->size() == 1);
  CHECK(images->front().where == base + "/sub/bios-b.fd");
}

TEST_CASE("a location of one image whose manifest is missing lists nothing and says why",
          "[unit]") {
  served s;
  auto location = make_http_image_location(s.config(), s.server.url() + "/nothing.fd");
  REQUIRE(location);
  std::vector<std::string> skipped;
  auto images = (*location)->list(skipped);
  REQUIRE(images);
  CHECK(images->empty());
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].find("/nothing.fd.fwm") != std::string::npos);
  CHECK(skipped[0].find("404") != std::string::npos);
}

TEST_CASE("a location of one image refuses a URL it cannot use before fetching", "[unit]") {
  served s;
  auto plain = s.config();
  plain.allow_http = false;
  auto location = make_http_image_location(plain, s.server.url() + "/bios.fd");
  REQUIRE_FALSE(location);
  CHECK(describe(location.error()).find("allow_http") != std::string::npos);
}
