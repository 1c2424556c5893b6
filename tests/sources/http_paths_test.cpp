// What a web location accepts as its configuration and as the lines of its index, and the
// Content-Range headers it believes; no server needed.

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "sources/http_client.hpp"
#include "sources/http_location.hpp"
#include "sources/http_paths.hpp"

using namespace fwrescue;

namespace {

http_source_config config_for(std::string url) {
  http_source_config c;
  c.url = std::move(url);
  return c;
}

} // namespace

TEST_CASE("a usable base URL is normalised without its trailing slash", "[unit]") {
  CHECK(check_http_config(config_for("https://fw.example/images/")).value()
        == "https://fw.example/images");
  CHECK(check_http_config(config_for("https://fw.example")).value() == "https://fw.example");
  CHECK(check_http_config(config_for("HTTPS://fw.example:8443/x")).value()
        == "https://fw.example:8443/x");
  auto plain = config_for("http://127.0.0.1:8080/x");
  plain.allow_http = true;
  CHECK(check_http_config(plain).value() == "http://127.0.0.1:8080/x");
}

TEST_CASE("a configuration that cannot be used says why in one line", "[unit]") {
  struct row {
    http_source_config config;
    std::string why;
  };
  auto with = [](std::string url, auto change) {
    auto c = config_for(std::move(url));
    change(c);
    return c;
  };
  auto same = [](http_source_config&) {};
  std::vector<row> rows{
    {config_for("not a url"), "http: URL 'not a url' does not parse: "},
    {config_for("fw.example/x"), "http: URL 'fw.example/x' does not parse: Bad scheme"},
    {config_for("ftp://fw.example/x"), "http: URL 'ftp://fw.example/x' is not https"},
    {config_for("http://fw.example/x"),
     "http: URL 'http://fw.example/x' is plain http and allow_http is not set"},
    {config_for("https://fw.example/x?y=1"),
     "http: URL 'https://fw.example/x?y=1' has a query or fragment"},
    {config_for("https://u:pw@fw.example/x"),
     "http: URL 'https://u:pw@fw.example/x' carries a user name or password"},
    {with("https://fw.example/x", [](auto& c) { c.client_cert = "/etc/c.pem"; }),
     "http: client_cert is set without client_key"},
    {with("https://fw.example/x", [](auto& c) { c.client_key = "/etc/c.key"; }),
     "http: client_key is set without client_cert"},
    {with("https://fw.example/x", [](auto& c) { c.index = "../index"; }),
     "http: index '../index' has a '..' segment"},
  };
  (void)same;
  for (const auto& r : rows) {
    CAPTURE(r.config.url, r.config.index);
    auto base = check_http_config(r.config);
    REQUIRE_FALSE(base);
    auto line = describe(base.error());
    CHECK(line.starts_with(r.why));
    CHECK(line.find('\n') == std::string::npos);
    CHECK(has_code(base.error(), errc::invalid_argument));
  }
}

TEST_CASE("an unusable configuration still makes a location whose calls fail with the reason",
          "[unit]") {
  auto location = make_http_location(config_for("http://fw.example/x"));
  REQUIRE(location);
  CHECK((*location)->name() == "http");
  std::vector<std::string> skipped;
  auto listed = (*location)->list(skipped);
  REQUIRE_FALSE(listed);
  CHECK(describe(listed.error())
        == "http: URL 'http://fw.example/x' is plain http and allow_http is not set");
  located_image image{"http://fw.example/x/a", {}};
  std::vector<byte_run> runs{{0, 10}};
  auto err = (*location)->read(image, runs, [](uint64_t, auto) { return caf::error{}; });
  CHECK(describe(err) == describe(listed.error()));
  CHECK((*location)->bytes_read() == 0);
}

TEST_CASE("index lines name manifests under the base URL or are refused", "[unit]") {
  for (auto good : {"a.fwm", "bios/x11-1.2.fwm", "./a.fwm", "v1.0+build_7~rc.fwm"}) {
    CAPTURE(good);
    CHECK_FALSE(index_path_problem(good));
  }
  struct row {
    const char* path;
    const char* why;
  };
  for (auto r : std::vector<row>{
         {"/etc/a.fwm", "is absolute"},
         {"//evil.example/a.fwm", "is absolute"},
         {"https://evil.example/a.fwm", "has a scheme"},
         {"file:a.fwm", "has a scheme"},
         {"../a.fwm", "has a '..' segment"},
         {"x/../../a.fwm", "has a '..' segment"},
         {"x/..", "has a '..' segment"},
         {"%2e%2e/a.fwm", "has the character '%'"},
         {"a.fwm?x=1", "has the character '?'"},
         {"a b.fwm", "has the character ' '"},
         {"a\\b.fwm", "has the character '\\'"},
         {"a\x01.fwm", "has the byte 0x01"},
         {"a.bin", "does not name a manifest (NAME.fwm)"},
         {"dir/.fwm", "does not name a manifest (NAME.fwm)"},
       }) {
    CAPTURE(r.path);
    CHECK(index_path_problem(r.path).value_or("") == r.why);
  }
}

TEST_CASE("an index skips comments and blanks, refuses bad lines and stops at max_images",
          "[unit]") {
  std::vector<std::string> skipped;
  auto paths = parse_http_index("# images for X11\r\n\r\n  a.fwm  \r\nsub/b.fwm\n../c.fwm\n"
                                "a.fwm\n\t\n#d.fwm\n",
                                "https://h/x/index", skipped);
  CHECK(paths == std::vector<std::string>{"a.fwm", "sub/b.fwm"});
  CHECK(skipped
        == std::vector<std::string>{"https://h/x/index line 5: '../c.fwm' has a '..' segment"});

  std::string many;
  for (size_t i = 0; i < location_limits::max_images + 10; ++i)
    many += "image" + std::to_string(i) + ".fwm\n";
  skipped.clear();
  paths = parse_http_index(many, "https://h/x/index", skipped);
  CHECK(paths.size() == location_limits::max_images);
  CHECK(paths.back() == "image63.fwm");
  CHECK(
    skipped
    == std::vector<std::string>{"https://h/x/index: 74 entries, only the first 64 are looked at"});
}

TEST_CASE("a refused line is quoted shortly and only when printable", "[unit]") {
  std::vector<std::string> skipped;
  std::string long_line(200, 'a');
  parse_http_index(long_line + "\n\x01\x02.fwm\n", "u", skipped);
  REQUIRE(skipped.size() == 2);
  CHECK(skipped[0]
        == "u line 1: '" + std::string(80, 'a') + "…' does not name a manifest (NAME.fwm)");
  CHECK(skipped[1] == "u line 2: the path has the byte 0x01");
}

TEST_CASE("the image of NAME.fwm is NAME", "[unit]") {
  CHECK(image_url_of("https://h/x/bios.fd.fwm") == "https://h/x/bios.fd");
}

TEST_CASE("Content-Range headers are believed only when whole", "[unit]") {
  auto r = parse_content_range("bytes 100-199/1000");
  REQUIRE(r);
  CHECK(r->first == 100);
  CHECK(r->last == 199);
  CHECK(parse_content_range("bytes 0-0/*"));
  CHECK(parse_content_range("Bytes 0-9/10"));
  for (auto bad :
       {"", "bytes", "bytes 5-4/10", "bytes 0-10/10", "bytes 0-9", "bytes */10", "bits 0-9/10",
        "bytes 0-9/10x", "bytes -1-9/10", "bytes 0-99999999999999999999/*"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_content_range(bad));
  }
}

TEST_CASE("an image URL names its manifest beside it, or is the manifest", "[unit]") {
  http_source_config c;
  auto parts = check_image_uri(c, "https://fw.example/images/bios.fd");
  REQUIRE(parts);
  CHECK(parts->base == "https://fw.example/images");
  CHECK(parts->manifest == "bios.fd.fwm");
  parts = check_image_uri(c, "https://fw.example/bios.fd.fwm");
  REQUIRE(parts);
  CHECK(parts->base == "https://fw.example");
  CHECK(parts->manifest == "bios.fd.fwm");
}

TEST_CASE("an image URL that is not an http(s) URL of a file is refused with the reason",
          "[unit]") {
  http_source_config c;
  auto refused = [&](std::string uri, std::string_view why) {
    auto parts = check_image_uri(c, uri);
    INFO(uri);
    REQUIRE_FALSE(parts);
    auto text = describe(parts.error());
    INFO(text);
    CHECK(text.find(why) != std::string::npos);
    CHECK(text.find('\n') == std::string::npos);
  };
  refused("not a url", "blank");
  refused("notaurl", "not a usable URL");
  refused("ftp://fw.example/bios.fd", "is not https");
  refused("http://fw.example/bios.fd", "allow_http");
  refused("https://fw.example/bios.fd?x=1", "query");
  refused("https://user:pw@fw.example/bios.fd", "password");
  refused("https://fw.example/images/", "directory");
  refused("https://fw.example", "names no file");
  refused("https://fw.example/b%69os.fd", "'%'");
  refused("", "empty");
  refused("https://fw.example/" + std::string(3000, 'a'), "longer than 2048");
  c.allow_http = true;
  CHECK(check_image_uri(c, "http://127.0.0.1:8080/bios.fd"));
}
