// recovery.sources and the tables of the image locations: [local], [removable], [http].
#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/node_config.hpp"
#include "tests/config/config_fixture.hpp"

using namespace fwrescue;
using fwrescue::test::error_of;
using fwrescue::test::minimal;

TEST_CASE("a node asks its peers only unless told otherwise") {
  auto cfg = parse_config(minimal, "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  CHECK(cfg->recovery.sources == std::vector<std::string>{"peers"});
  CHECK_FALSE(cfg->local.keep_golden);
  CHECK(cfg->http.index == "index");
  CHECK_FALSE(cfg->http.allow_http);
}

TEST_CASE("sources are taken in the order given, with their tables") {
  auto cfg = parse_config(minimal + R"([recovery]
sources = ["http", "local", "removable", "peers"]
[local]
dir = "golden"
keep_golden = true
[removable]
watch = ["/media/fwrescue", "/media/pcmcia"]
[http]
url = "https://fw.example/images/"
ca_file = "ca.pem"
client_cert = "me.pem"
client_key = "me.key"
retries = 5
)",
                          "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  CHECK(cfg->recovery.sources == std::vector<std::string>{"http", "local", "removable", "peers"});
  CHECK(cfg->local.dir == "/etc/fwrescue/golden");
  CHECK(cfg->local.keep_golden);
  CHECK(cfg->removable.watch == std::vector<std::string>{"/media/fwrescue", "/media/pcmcia"});
  CHECK(cfg->http.url == "https://fw.example/images/");
  CHECK(cfg->http.ca_file == "/etc/fwrescue/ca.pem");
  CHECK(cfg->http.client_key == "/etc/fwrescue/me.key");
  CHECK(cfg->http.retries == 5);
}

TEST_CASE("a bad source list is named with its line") {
  CHECK(error_of(minimal + "[recovery]\nsources = [\"peers\", \"ftp\"]\n")
        == "peer.toml:13: key 'recovery.sources[1]': expected one of \"local\", \"removable\", "
           "\"peers\", \"http\", got \"ftp\"");
  CHECK(error_of(minimal + "[recovery]\nsources = [\"peers\", \"peers\"]\n")
        == "peer.toml:13: key 'recovery.sources': expected each source at most once ('peers' is "
           "listed twice), got an array");
  CHECK(error_of(minimal + "[recovery]\nsources = []\n").find("at least one source")
        != std::string::npos);
}

TEST_CASE("a listed source must say where its images are") {
  CHECK(error_of(minimal + "[recovery]\nsources = [\"local\"]\n")
        == "peer.toml: missing required key 'local.dir'");
  CHECK(error_of(minimal + "[recovery]\nsources = [\"removable\"]\n")
        == "peer.toml: missing required key 'removable.watch'");
  CHECK(error_of(minimal + "[recovery]\nsources = [\"http\"]\n")
        == "peer.toml: missing required key 'http.url'");
  CHECK(error_of(minimal + "[local]\nkeep_golden = true\n")
        == "peer.toml: missing required key 'local.dir'");
}

TEST_CASE("a web server's settings are checked") {
  CHECK(error_of(minimal + "[http]\nurl = \"https://h/\"\nclient_cert = \"c.pem\"\n")
        == "peer.toml: missing required key 'http.client_key'");
  CHECK(error_of(minimal + "[http]\nurl = \"https://h/\"\nindex = \"../index\"\n").find(
          "key 'http.index'")
        != std::string::npos);
  CHECK(error_of(minimal + "[http]\nurl = \"https://h/\"\nbogus = 1\n")
        == "peer.toml:14: unknown key 'http.bogus'");
}
