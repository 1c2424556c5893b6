// [redfish]: off by default; when enabled it needs its certificate, key and credentials, and a
// bad value is named with its key and line.
#include <catch2/catch.hpp>

#include "config/node_config.hpp"
#include "tests/config/config_fixture.hpp"

using namespace fwrescue;
using fwrescue::test::error_of;
using fwrescue::test::minimal;

TEST_CASE("Redfish is off unless enabled") {
  auto cfg = parse_config(minimal, "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  CHECK_FALSE(cfg->redfish.enabled);
  CHECK(cfg->redfish.listen == "127.0.0.1:8443");
  CHECK(cfg->redfish.tasks_kept == 32);
}

TEST_CASE("an enabled Redfish service takes its files relative to the configuration") {
  auto cfg = parse_config(minimal + R"([redfish]
enabled = true
listen = "10.0.0.7:443"
cert_file = "redfish.crt"
key_file = "redfish.key"
credentials = "redfish.users"
threads = 4
)",
                          "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  CHECK(cfg->redfish.enabled);
  CHECK(cfg->redfish.listen == "10.0.0.7:443");
  CHECK(cfg->redfish.cert_file == "/etc/fwrescue/redfish.crt");
  CHECK(cfg->redfish.credentials == "/etc/fwrescue/redfish.users");
  CHECK(cfg->redfish.threads == 4);
}

TEST_CASE("a bad [redfish] value is named with its key") {
  CHECK(error_of(minimal + "[redfish]\nenabled = true\ncert_file = \"c\"\nkey_file = \"k\"\n")
          .find("missing required key 'redfish.credentials'")
        != std::string::npos);
  CHECK(error_of(minimal + "[redfish]\nlisten = \"localhost:8443\"\n")
          .find("key 'redfish.listen': expected an \"IPv4:port\" address")
        != std::string::npos);
  CHECK(error_of(minimal + "[redfish]\nthreads = 0\n").find("key 'redfish.threads'")
        != std::string::npos);
  CHECK(error_of(minimal + "[redfish]\nport = 1\n").find("unknown key 'redfish.port'")
        != std::string::npos);
}
