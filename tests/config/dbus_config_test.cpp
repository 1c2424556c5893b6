// [dbus]: off unless enabled, and a bus, name or period that cannot work is named with its line.
#include <catch2/catch.hpp>

#include "config/node_config.hpp"
#include "tests/config/config_fixture.hpp"

using namespace fwrescue;
using fwrescue::test::error_of;
using fwrescue::test::minimal;

TEST_CASE("D-Bus is off unless enabled, with the system bus and the OpenBMC-style name") {
  auto cfg = parse_config(minimal, "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  CHECK_FALSE(cfg->dbus.enabled);
  CHECK(cfg->dbus.bus == "system");
  CHECK(cfg->dbus.name == "xyz.openbmc_project.Software.FwRescue");
  CHECK(cfg->dbus.refresh_ms == 500);
}

TEST_CASE("[dbus] takes a bus by kind or by address, a name and a period") {
  auto cfg = parse_config(minimal + R"([dbus]
enabled = true
bus = "unix:path=/tmp/test-bus/socket"
name = "com.example.Rescue_2"
refresh_ms = 100
)",
                          "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  CHECK(cfg->dbus.enabled);
  CHECK(cfg->dbus.bus == "unix:path=/tmp/test-bus/socket");
  CHECK(cfg->dbus.name == "com.example.Rescue_2");
  CHECK(cfg->dbus.refresh_ms == 100);
  CHECK(parse_config(minimal + "[dbus]\nbus = \"session\"\n", "p.toml"));
}

TEST_CASE("a bad [dbus] value is named with its line") {
  CHECK(error_of(minimal + "[dbus]\nbus = \"sytem\"\n")
        == "peer.toml:13: key 'dbus.bus': expected \"system\", \"session\" or a D-Bus address "
           "such as \"unix:path=/run/bus\", got \"sytem\"");
  CHECK(error_of(minimal + "[dbus]\nbus = \":path=/x\"\n").find("key 'dbus.bus'")
        != std::string::npos);
  for (auto name : {"\"Rescue\"", "\"com..example\"", "\"com.2example\"", "\":1.5\"",
                    "\"com.exa mple\"", "\"\""})
    CHECK(error_of(minimal + "[dbus]\nname = " + name + "\n")
          == std::string{"peer.toml:13: key 'dbus.name': expected a well-known bus name such as "
                         "\"xyz.openbmc_project.Software.FwRescue\", got "}
               + name);
  CHECK(error_of(minimal + "[dbus]\nname = \"a." + std::string(300, 'b') + "\"\n")
          .find("key 'dbus.name'")
        != std::string::npos);
  CHECK(error_of(minimal + "[dbus]\nrefresh_ms = 10\n")
        == "peer.toml:13: key 'dbus.refresh_ms': expected an integer from 50 to 60000, got 10");
  CHECK(error_of(minimal + "[dbus]\nenabled = \"yes\"\n")
        == "peer.toml:13: key 'dbus.enabled': expected true or false, got a string (\"yes\")");
  CHECK(error_of(minimal + "[dbus]\naddress = \"x\"\n")
        == "peer.toml:13: unknown key 'dbus.address'");
}
