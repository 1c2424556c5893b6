// [metrics]: the listener's address.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "config/node_config.hpp"
#include "tests/config/config_fixture.hpp"

using namespace fwrescue;
using fwrescue::test::error_of;
using fwrescue::test::minimal;

TEST_CASE("metrics are off unless [metrics] listen names an address") {
  auto cfg = parse_config(minimal, "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  CHECK(cfg->metrics.listen.empty());
  auto off = parse_config(minimal + "[metrics]\nlisten = \"\"\n", "/etc/fwrescue/peer.toml");
  REQUIRE(off);
  CHECK(off->metrics.listen.empty());
  auto on =
    parse_config(minimal + "[metrics]\nlisten = \"127.0.0.1:9464\"\n", "/etc/fwrescue/peer.toml");
  REQUIRE(on);
  CHECK(on->metrics.listen == "127.0.0.1:9464");
}

TEST_CASE("a bad metrics address or an unknown key is named with its line") {
  auto expected = "expected \"IPv4:port\" with a port from 1 to 65535, or \"\" for none";
  CHECK(error_of(minimal + "[metrics]\nlisten = \"localhost:9464\"\n")
        == fmt::format("peer.toml:13: key 'metrics.listen': {}, got \"localhost:9464\"", expected));
  CHECK(error_of(minimal + "[metrics]\nlisten = \"127.0.0.1:0\"\n")
        == fmt::format("peer.toml:13: key 'metrics.listen': {}, got \"127.0.0.1:0\"", expected));
  CHECK(error_of(minimal + "[metrics]\nlisten = 9464\n")
        == fmt::format("peer.toml:13: key 'metrics.listen': {}, got an integer (9464)", expected));
  CHECK(error_of(minimal + "[metrics]\nport = 9464\n")
        == "peer.toml:13: unknown key 'metrics.port'");
}
