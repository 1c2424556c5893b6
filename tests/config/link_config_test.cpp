// The link sections: [lan], [icmb], [ble], and which links a node runs.
#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/node_config.hpp"
#include "tests/config/config_fixture.hpp"

using namespace fwrescue;
using fwrescue::test::error_of;
using fwrescue::test::minimal;

TEST_CASE("a node runs the LAN alone unless told otherwise") {
  auto cfg = parse_config(minimal, "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  CHECK(enabled_links(*cfg) == std::vector<std::string>{"lan"});
  CHECK_FALSE(cfg->icmb.enabled);
  CHECK_FALSE(cfg->ble.enabled);
}

TEST_CASE("every enabled link runs, in the order lan, icmb, ble") {
  auto cfg = parse_config(minimal + R"([lan]
enabled = false
[icmb]
enabled = true
device = "/dev/ttyS1"
address = 0x0012
baud = 115200
[ble]
enabled = true
address = "aa:bb:cc:dd:ee:01"
peers = ["AA:BB:CC:DD:EE:02"]
psm = 0x81
)",
                          "/etc/fwrescue/peer.toml");
  REQUIRE(cfg);
  CHECK(enabled_links(*cfg) == std::vector<std::string>{"icmb", "ble"});
  CHECK(cfg->icmb.device == "/dev/ttyS1");
  CHECK(cfg->icmb.address == 0x12);
  CHECK(cfg->icmb.baud == 115200);
  CHECK(cfg->ble.address == "aa:bb:cc:dd:ee:01");
  CHECK(cfg->ble.peers == std::vector<std::string>{"AA:BB:CC:DD:EE:02"});
}

TEST_CASE("an enabled bus needs its device and address") {
  CHECK(error_of(minimal + "[icmb]\nenabled = true\naddress = 5\n")
        == "peer.toml: missing required key 'icmb.device'");
  CHECK(error_of(minimal + "[icmb]\nenabled = true\ndevice = \"/dev/ttyS1\"\n")
        == "peer.toml: missing required key 'icmb.address'");
}

TEST_CASE("a bad bus rate, address or Bluetooth setting is named with its line") {
  CHECK(error_of(minimal + "[icmb]\nbaud = 12345\n")
        == "peer.toml:13: key 'icmb.baud': expected a standard serial rate (1200, 9600, 19200, "
           "115200, ...), got 12345");
  CHECK(error_of(minimal + "[icmb]\naddress = 0xffff\n")
        == "peer.toml:13: key 'icmb.address': expected a bus address from 1 to 0xfffe, got 65535");
  CHECK(error_of(minimal + "[ble]\naddress = \"AA:BB:CC:DD:EE\"\n")
        == "peer.toml:13: key 'ble.address': expected a Bluetooth address such as "
           "\"AA:BB:CC:DD:EE:FF\", got \"AA:BB:CC:DD:EE\"");
  CHECK(error_of(minimal + "[ble]\npeers = [\"AA:BB:CC:DD:EE:GG\"]\n")
        == "peer.toml:13: key 'ble.peers[0]': expected a Bluetooth address such as "
           "\"AA:BB:CC:DD:EE:FF\", got \"AA:BB:CC:DD:EE:GG\"");
  CHECK(error_of(minimal + "[ble]\npsm = 0x1001\n")
        == "peer.toml:13: key 'ble.psm': expected an LE dynamic PSM from 0x80 to 0xff, got 4097");
  CHECK(error_of(minimal + "[ble]\ncolour = \"blue\"\n") == "peer.toml:13: unknown key 'ble.colour'");
}

TEST_CASE("an emulated Bluetooth link needs this node's address to name its socket") {
  CHECK(error_of(minimal + "[ble]\nenabled = true\nemulation = \"/tmp/ble\"\n")
        == "peer.toml: missing required key 'ble.address'");
}
