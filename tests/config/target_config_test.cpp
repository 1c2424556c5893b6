// [[target]]: the firmware targets beyond the one [flash] describes.
#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/node_config.hpp"
#include "tests/config/config_fixture.hpp"

using namespace fwrescue;
using fwrescue::test::error_of;
using fwrescue::test::minimal;

TEST_CASE("a node has one target unless told otherwise") {
  auto cfg = parse_config(minimal, "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  CHECK(cfg->targets.empty());
  CHECK(cfg->flash.component == "bios");
}

TEST_CASE("further targets have their own flash, component, host coupling and state") {
  auto cfg = parse_config(minimal + R"([[target]]
name = "nic0"
[target.flash]
component = "nic"
path = "nic0.bin"
erase_size = 65536
[[target]]
name = "cpld"
host_power = "host"
state_dir = "/var/lib/fwrescue/cpld"
[target.flash]
component = "cpld"
backend = "flashrom"
programmer = "linux_spi:dev=/dev/spidev1.0"
)",
                          "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  REQUIRE(cfg->targets.size() == 2);
  const auto& nic = cfg->targets[0];
  CHECK(nic.name == "nic0");
  CHECK(nic.flash.component == "nic");
  CHECK(nic.flash.path == "/etc/fwrescue/nic0.bin");
  CHECK(nic.flash.erase_size == 65536);
  CHECK(nic.host_power == "none");
  CHECK(nic.state_dir == "/etc/fwrescue/state/bmc-a/nic0");
  const auto& cpld = cfg->targets[1];
  CHECK(cpld.host_power == "host");
  CHECK(cpld.state_dir == "/var/lib/fwrescue/cpld");
  CHECK(cpld.flash.backend == "flashrom");
}

TEST_CASE("targets must differ in name and component") {
  auto twice = error_of(minimal + R"([[target]]
name = "a"
[target.flash]
component = "bios"
path = "a.bin"
)");
  CHECK(twice.find("component 'bios' is already another target's") != std::string::npos);
  auto same_name = error_of(minimal + R"([[target]]
name = "x"
[target.flash]
component = "nic"
path = "a.bin"
[[target]]
name = "x"
[target.flash]
component = "cpld"
path = "b.bin"
)");
  CHECK(same_name.find("key 'target[1].name': expected a name no other target has") != std::string::npos);
}

TEST_CASE("a target's flash is checked like [flash]") {
  CHECK(error_of(minimal + "[[target]]\nname = \"n\"\n")
        == "peer.toml: missing required key 'target[0].flash'");
  CHECK(error_of(minimal + "[[target]]\nname = \"n\"\n[target.flash]\ncomponent = \"nic\"\n")
        == "peer.toml: missing required key 'target[0].flash.path'");
  CHECK(error_of(minimal + "[[target]]\nname = \"n\"\nhost_power = \"maybe\"\n[target.flash]\n"
                           "component = \"nic\"\npath = \"n.bin\"\n")
          .find("key 'target[0].host_power'")
        != std::string::npos);
}
