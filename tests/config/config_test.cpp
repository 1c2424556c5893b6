#include <catch2/catch.hpp>

#include <filesystem>

#include "common/error.hpp"
#include "config/node_config.hpp"
#include "tests/config/config_fixture.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;
using fwrescue::test::error_of;
using fwrescue::test::minimal;

namespace {

/// An absolute source so that resolved paths do not depend on the working directory.
const std::string source = "/etc/fwrescue/peer.toml";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

std::vector<uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}

} // namespace

TEST_CASE("a timing preset fills a part's datasheet figures; keys beside it override them") {
  auto cfg = parse_config(minimal + "timing = \"w25q256\"\n", source);
  REQUIRE(cfg);
  CHECK(cfg->flash.timing == "w25q256");
  CHECK(cfg->flash.block_erase_size == 65536);
  CHECK(cfg->flash.erase_us == 45000);
  CHECK(cfg->flash.block_erase_us == 150000);
  CHECK(cfg->flash.program_us == 700);
  cfg = parse_config(minimal
                       + "timing = \"w25q256\"\nprogram_us = 300\nblock_erase_size = 32768\n"
                         "block_erase_us = 120000\n",
                     source);
  REQUIRE(cfg);
  CHECK(cfg->flash.erase_us == 45000);
  CHECK(cfg->flash.block_erase_size == 32768);
  CHECK(cfg->flash.block_erase_us == 120000);
  CHECK(cfg->flash.program_us == 300);
  // Without a preset the figures are the keys alone; 0 turns block erase off.
  cfg = parse_config(minimal + "erase_us = 10\nblock_erase_size = 0\n", source);
  REQUIRE(cfg);
  CHECK(cfg->flash.erase_us == 10);
  CHECK(cfg->flash.block_erase_us == 0);
  CHECK(cfg->flash.block_erase_size == 0);
}

TEST_CASE("a config with only the required keys gets every default") {
  auto cfg = parse_config(minimal, source);
  REQUIRE(cfg);
  CHECK(cfg->source == source);
  CHECK(cfg->id == "bmc-a");
  CHECK(cfg->role == node_role::peer);
  CHECK(cfg->log_level == "info");
  CHECK(cfg->platform == platform_id{"QEMU", "q35"});
  CHECK(cfg->svn_floor == 0);
  flash_config flash;
  CHECK(cfg->flash.component == "bios");
  CHECK(cfg->flash.backend == flash.backend);
  CHECK(cfg->flash.erase_size == flash.erase_size);
  CHECK(cfg->flash.program_size == flash.program_size);
  CHECK(cfg->flash.timing == "none");
  CHECK(cfg->flash.block_erase_size == 65536);
  CHECK(cfg->flash.erase_us == 0);
  CHECK(cfg->flash.block_erase_us == 0);
  CHECK(cfg->flash.program_us == 0);
  host_power_config power;
  CHECK(cfg->host_power.backend == power.backend);
  CHECK(cfg->host_power.during_flash == power.during_flash);
  CHECK(cfg->host_power.after_flash == "restore");
  CHECK(cfg->host_power.at_start == "keep");
  CHECK(cfg->boot.watch);
  CHECK(cfg->boot.success_patterns.size() == 2);
  CHECK(cfg->boot.timeout_s == 120);
  CHECK(cfg->boot.failures_to_exclude == 2);
  // The older spelling of DC on still reads.
  auto running = parse_config(minimal + "[host_power]\nduring_flash = \"running\"\n", source);
  REQUIRE(running);
  CHECK(running->host_power.during_flash == "on");
  auto qemu = parse_config(minimal + "[host_power]\nbackend = \"qemu\"\nfirmware = \"fw/chip.bin\"\n"
                                     "firmware_offset = 4096\nqemu_args = [\"-smp\", \"2\"]\n",
                           source);
  REQUIRE(qemu);
  CHECK(qemu->host_power.backend == "qemu");
  CHECK(qemu->host_power.firmware == "/etc/fwrescue/fw/chip.bin");
  CHECK(qemu->host_power.firmware_offset == 4096);
  CHECK(qemu->host_power.qemu_args == std::vector<std::string>{"-smp", "2"});
  CHECK(qemu->host_power.qemu_accel == "tcg");
  CHECK(qemu->host_power.powerdown_timeout_ms == 10000);
  monitor_config monitor;
  CHECK(cfg->monitor.interval_s == monitor.interval_s);
  CHECK(cfg->monitor.check_at_start == monitor.check_at_start);
  CHECK(cfg->monitor.auto_recover == monitor.auto_recover);
  recovery_config rec;
  CHECK(cfg->recovery.policy == rec.policy);
  CHECK(cfg->recovery.discovery_window_ms == rec.discovery_window_ms);
  CHECK(cfg->recovery.block_window == rec.block_window);
  CHECK(cfg->recovery.verified_in_memory_mib == rec.verified_in_memory_mib);
  CHECK(cfg->recovery.block_timeout_ms == rec.block_timeout_ms);
  CHECK(cfg->recovery.max_attempts == rec.max_attempts);
  CHECK(cfg->recovery.backoff_initial_ms == rec.backoff_initial_ms);
  CHECK(cfg->recovery.backoff_max_ms == rec.backoff_max_ms);
  CHECK(cfg->policy.allowed_versions.empty());
  CHECK(cfg->policy.pin_version.empty());
  CHECK_FALSE(cfg->policy.allow_downgrade);
  CHECK(cfg->policy.scored == scoring_weights{1.0, 1.0, 1.0, 1.0, 1.0});
  donor_config donor;
  CHECK(cfg->donor.enabled == donor.enabled);
  CHECK(cfg->donor.serve_installed == donor.serve_installed);
  CHECK(cfg->donor.images.empty());
  CHECK(cfg->donor.max_uploads == donor.max_uploads);
  CHECK(cfg->donor.upload_rate_kbps == donor.upload_rate_kbps);
  lan_config lan;
  CHECK(cfg->lan.enabled == lan.enabled);
  CHECK(cfg->lan.group == lan.group);
  CHECK(cfg->lan.discovery_port == lan.discovery_port);
  CHECK(cfg->lan.interface_address == lan.interface_address);
  CHECK(cfg->lan.session_port == lan.session_port);
  CHECK(cfg->lan.static_peers.empty());
  CHECK(cfg->lan.multicast_ttl == lan.multicast_ttl);
  CHECK(cfg->admin.socket.empty());
  CHECK(cfg->admin_socket() == "/etc/fwrescue/state/bmc-a/admin.sock");
  supervisor_config sup;
  CHECK(cfg->supervisor.max_restarts == sup.max_restarts);
  CHECK(cfg->supervisor.restart_window_s == sup.restart_window_s);
}

TEST_CASE("every key of a full config is read into its field") {
  auto text = R"([node]
id = "Console_2.b-x"
role = "console"
key = "/keys/c.sec"
state_dir = "/var/lib/fwrescue"
log_level = "debug"
[platform]
vendor = "Acme Corp."
board = "X11-DP"
[trust]
manifest_keys = ["/keys/a.pub", "/keys/b.pub"]
svn_floor = 4294967295
[flash]
component = "cpld-2"
backend = "file"
path = "/dev/shm/flash.fd"
erase_size = 65536
program_size = 65536
erase_us = 30000
program_us = 700
[host_power]
backend = "sim"
during_flash = "reset"
after_flash = "reset"
at_start = "on"
[boot]
watch = false
console = "/var/log/host.log"
success_patterns = ["Shell>", "login:"]
timeout_s = 30
failures_to_exclude = 3
[monitor]
interval_s = 0
check_at_start = false
auto_recover = false
[recovery]
policy = "first-responder"
discovery_window_ms = 0
block_window = 1024
verified_in_memory_mib = 0
block_timeout_ms = 1
max_attempts = 1
backoff_initial_ms = 7
backoff_max_ms = 7
[policy]
allowed_versions = ["2.7.1", "2.8.0"]
pin_version = "2.8.0"
allow_downgrade = true
[policy.scored]
role = 0
svn = 2.5
load = 0.25
link = 1000
history = 3
[donor]
enabled = false
serve_installed = false
max_uploads = 9
upload_rate_kbps = 8000
[[donor.images]]
image = "/img/a.fd"
manifest = "/img/a.fwm"
[[donor.images]]
image = "/img/b.fd"
manifest = "/img/b.fwm"
[lan]
enabled = false
group = "255.255.255.255"
discovery_port = 65535
interface_address = "10.1.2.3"
session_port = 65535
static_peers = ["10.0.0.1:1", "192.0.2.7:65535"]
multicast_ttl = 255
[admin]
socket = "/run/fwrescue.sock"
[supervisor]
max_restarts = 0
restart_window_s = 1
)";
  auto cfg = parse_config(text, source);
  REQUIRE(cfg);
  CHECK(cfg->id == "Console_2.b-x");
  CHECK(cfg->role == node_role::console);
  CHECK(cfg->key == "/keys/c.sec");
  CHECK(cfg->state_dir == "/var/lib/fwrescue");
  CHECK(cfg->log_level == "debug");
  CHECK(cfg->platform == platform_id{"Acme Corp.", "X11-DP"});
  CHECK(cfg->manifest_keys == std::vector<std::string>{"/keys/a.pub", "/keys/b.pub"});
  CHECK(cfg->svn_floor == 4294967295u);
  CHECK(cfg->flash.component == "cpld-2");
  CHECK(cfg->flash.backend == "file");
  CHECK(cfg->flash.path == "/dev/shm/flash.fd");
  CHECK(cfg->flash.erase_size == 65536);
  CHECK(cfg->flash.program_size == 65536);
  CHECK(cfg->flash.erase_us == 30000);
  CHECK(cfg->flash.program_us == 700);
  // Sectors as large as the default block: the chip is taken to have no larger erase.
  CHECK(cfg->flash.block_erase_size == 0);
  CHECK(cfg->host_power.backend == "sim");
  CHECK(cfg->host_power.during_flash == "reset");
  CHECK(cfg->host_power.after_flash == "reset");
  CHECK(cfg->host_power.at_start == "on");
  CHECK_FALSE(cfg->boot.watch);
  CHECK(cfg->boot.console == "/var/log/host.log");
  CHECK(cfg->boot.success_patterns == std::vector<std::string>{"Shell>", "login:"});
  CHECK(cfg->boot.timeout_s == 30);
  CHECK(cfg->boot.failures_to_exclude == 3);
  CHECK(cfg->monitor.interval_s == 0);
  CHECK_FALSE(cfg->monitor.check_at_start);
  CHECK_FALSE(cfg->monitor.auto_recover);
  CHECK(cfg->recovery.policy == "first-responder");
  CHECK(cfg->recovery.discovery_window_ms == 0);
  CHECK(cfg->recovery.block_window == 1024);
  CHECK(cfg->recovery.verified_in_memory_mib == 0);
  CHECK(cfg->recovery.block_timeout_ms == 1);
  CHECK(cfg->recovery.max_attempts == 1);
  CHECK(cfg->recovery.backoff_initial_ms == 7);
  CHECK(cfg->recovery.backoff_max_ms == 7);
  CHECK(cfg->policy.allowed_versions == std::vector<std::string>{"2.7.1", "2.8.0"});
  CHECK(cfg->policy.pin_version == "2.8.0");
  CHECK(cfg->policy.allow_downgrade);
  CHECK(cfg->policy.scored == scoring_weights{0, 2.5, 0.25, 1000, 3});
  CHECK_FALSE(cfg->donor.enabled);
  CHECK_FALSE(cfg->donor.serve_installed);
  CHECK(cfg->donor.max_uploads == 9);
  CHECK(cfg->donor.upload_rate_kbps == 8000);
  REQUIRE(cfg->donor.images.size() == 2);
  CHECK(cfg->donor.images[0].image == "/img/a.fd");
  CHECK(cfg->donor.images[0].manifest == "/img/a.fwm");
  CHECK(cfg->donor.images[1].image == "/img/b.fd");
  CHECK(cfg->donor.images[1].manifest == "/img/b.fwm");
  CHECK_FALSE(cfg->lan.enabled);
  CHECK(cfg->lan.group == "255.255.255.255");
  CHECK(cfg->lan.discovery_port == 65535);
  CHECK(cfg->lan.interface_address == "10.1.2.3");
  CHECK(cfg->lan.session_port == 65535);
  CHECK(cfg->lan.static_peers == std::vector<std::string>{"10.0.0.1:1", "192.0.2.7:65535"});
  CHECK(cfg->lan.multicast_ttl == 255);
  CHECK(cfg->admin.socket == "/run/fwrescue.sock");
  CHECK(cfg->admin_socket() == "/run/fwrescue.sock");
  CHECK(cfg->supervisor.max_restarts == 0);
  CHECK(cfg->supervisor.restart_window_s == 1);
}

TEST_CASE("relative paths are resolved against the config file's directory") {
  auto text = replace(minimal, "state_dir = \"state/bmc-a\"", "state_dir = \"../var/./a/\"")
              + "[[donor.images]]\nimage = \"img/a.fd\"\nmanifest = \"/abs/a.fwm\"\n"
              + "[admin]\nsocket = \"run/admin.sock\"\n";
  auto cfg = parse_config(text, source);
  REQUIRE(cfg);
  CHECK(cfg->key == "/etc/fwrescue/keys/bmc-a.sec");
  CHECK(cfg->state_dir == "/etc/var/a");
  CHECK(cfg->manifest_keys == std::vector<std::string>{"/etc/fwrescue/keys/release.pub"});
  CHECK(cfg->flash.path == "/etc/fwrescue/flash/bmc-a.fd");
  REQUIRE(cfg->donor.images.size() == 1);
  CHECK(cfg->donor.images[0].image == "/etc/fwrescue/img/a.fd");
  CHECK(cfg->donor.images[0].manifest == "/abs/a.fwm");
  CHECK(cfg->admin_socket() == "/etc/fwrescue/run/admin.sock");

  SECTION("a source without a directory reads paths against the working directory") {
    auto here = parse_config(minimal, "peer.toml");
    REQUIRE(here);
    CHECK(here->key == (std::filesystem::current_path() / "keys/bmc-a.sec").string());
  }
}

TEST_CASE("errors name the file, the line and the key in one line") {
  SECTION("unknown key") {
    CHECK(error_of(replace(minimal, "id = ", "idd = \"x\"\nid = "))
          == "peer.toml:2: unknown key 'node.idd'");
    CHECK(error_of(minimal + "[monitor]\nintervals = 5\n")
          == "peer.toml:13: unknown key 'monitor.intervals'");
    CHECK(error_of(minimal + "[[donor.images]]\nimage = \"a\"\nmanifest = \"b\"\nsig = \"c\"\n")
          == "peer.toml:15: unknown key 'donor.images[0].sig'");
  }
  SECTION("unknown table") {
    CHECK(error_of("[nodes]\nid = \"x\"\n" + minimal) == "peer.toml:1: unknown table 'nodes'");
    CHECK(error_of(minimal + "[flash.model]\nerase_us = 1\n")
          == "peer.toml:12: unknown table 'flash.model'");
  }
  SECTION("wrong type") {
    CHECK(error_of(minimal + "[recovery]\nblock_window = \"32\"\n")
          == "peer.toml:13: key 'recovery.block_window': expected an integer from 1 to 1024, "
             "got a string (\"32\")");
    CHECK(error_of(replace(minimal, "id = \"bmc-a\"", "id = 5"))
          == "peer.toml:2: key 'node.id': expected a string of 1 to 32 characters from A-Z a-z "
             "0-9 . _ -, got an integer (5)");
    CHECK(error_of(minimal + "[monitor]\nauto_recover = \"yes\"\n")
          == "peer.toml:13: key 'monitor.auto_recover': expected true or false, got a string "
             "(\"yes\")");
    CHECK(error_of("supervisor = 3\n" + minimal)
          == "peer.toml:1: key 'supervisor': expected a table ([supervisor]), got an integer (3)");
    CHECK(error_of(minimal + "[donor.images]\nimage = \"a\"\n")
          == "peer.toml:12: key 'donor.images': expected an array of tables ([[donor.images]]), "
             "got a table");
  }
  SECTION("out of range") {
    CHECK(error_of(minimal + "[recovery]\nblock_window = 0\n")
          == "peer.toml:13: key 'recovery.block_window': expected an integer from 1 to 1024, "
             "got 0");
    CHECK(error_of(minimal + "[recovery]\nverified_in_memory_mib = 5000\n")
          == "peer.toml:13: key 'recovery.verified_in_memory_mib': expected an integer from 0 to "
             "4096, got 5000");
    CHECK(error_of(minimal + "[monitor]\ninterval_s = 4294967296\n")
          == "peer.toml:13: key 'monitor.interval_s': expected an integer from 0 to 4294967295, "
             "got 4294967296");
    CHECK(error_of(minimal + "[lan]\ndiscovery_port = 0\n")
          == "peer.toml:13: key 'lan.discovery_port': expected an integer from 1 to 65535, got 0");
    CHECK(error_of(minimal + "[lan]\nsession_port = 65536\n")
          == "peer.toml:13: key 'lan.session_port': expected an integer from 0 to 65535, got "
             "65536");
    CHECK(error_of(minimal + "[lan]\nmulticast_ttl = -1\n")
          == "peer.toml:13: key 'lan.multicast_ttl': expected an integer from 0 to 255, got -1");
    CHECK(error_of(minimal + "[recovery]\nmax_attempts = 0\n")
          == "peer.toml:13: key 'recovery.max_attempts': expected an integer from 1 to "
             "4294967295, got 0");
  }
  SECTION("flash geometry") {
    CHECK(error_of(minimal + "erase_size = 3000\n")
          == "peer.toml:12: key 'flash.erase_size': expected a power of two from 256 to "
             "2147483648, got 3000");
    CHECK(error_of(minimal + "erase_size = 128\n")
          == "peer.toml:12: key 'flash.erase_size': expected a power of two from 256 to "
             "2147483648, got 128");
    CHECK(error_of(minimal + "program_size = 8192\n")
          == "peer.toml:12: key 'flash.program_size': expected a power of two no larger than "
             "flash.erase_size (4096), got 8192");
  }
  SECTION("flash timing") {
    CHECK(error_of(minimal + "timing = \"w25q128\"\n")
          == "peer.toml:12: key 'flash.timing': expected one of \"none\", \"w25q256\", got "
             "\"w25q128\"");
    CHECK(error_of(minimal + "erase_size = 65536\ntiming = \"w25q256\"\n")
          == "peer.toml:13: key 'flash.timing': expected \"none\" (\"w25q256\" has 4096-byte "
             "sectors and 256-byte pages; flash.erase_size is 65536, program_size 256), got "
             "\"w25q256\"");
    CHECK(error_of(minimal + "block_erase_size = 3000\n")
          == "peer.toml:12: key 'flash.block_erase_size': expected 0 or a power of two up to "
             "2147483648, got 3000");
    CHECK(error_of(minimal + "block_erase_size = 2048\n")
          == "peer.toml:12: key 'flash.block_erase_size': expected 0 or a multiple of "
             "flash.erase_size (4096), got 2048");
    CHECK(error_of(minimal + "block_erase_us = -1\n")
          == "peer.toml:12: key 'flash.block_erase_us': expected an integer from 0 to "
             "4294967295, got -1");
  }
  SECTION("backoff order") {
    CHECK(error_of(minimal + "[recovery]\nbackoff_initial_ms = 6000\n")
          == "peer.toml:13: key 'recovery.backoff_initial_ms': expected an integer no larger "
             "than recovery.backoff_max_ms (5000), got 6000");
    CHECK(error_of(minimal + "[recovery]\nbackoff_max_ms = 100\n")
          == "peer.toml:13: key 'recovery.backoff_max_ms': expected an integer no smaller than "
             "recovery.backoff_initial_ms (200), got 100");
  }
  SECTION("bad enum lists the allowed values") {
    CHECK(
      error_of(replace(minimal, "id = \"bmc-a\"\n", "id = \"bmc-a\"\nlog_level = \"verbose\"\n"))
      == "peer.toml:3: key 'node.log_level': expected one of \"debug\", \"info\", \"warn\", "
         "\"error\", got \"verbose\"");
    CHECK(error_of(replace(minimal, "id = \"bmc-a\"\n", "id = \"bmc-a\"\nrole = \"donor\"\n"))
          == "peer.toml:3: key 'node.role': expected one of \"peer\", \"console\", got \"donor\"");
    CHECK(error_of(minimal + "[host_power]\nduring_flash = \"dc\"\n")
          == "peer.toml:13: key 'host_power.during_flash': expected one of \"off\", \"reset\", "
             "\"on\", \"running\", got \"dc\"");
    // A host turned off for the write is never left off.
    CHECK(error_of(minimal + "[host_power]\nafter_flash = \"leave\"\n")
          == "peer.toml:13: key 'host_power.after_flash': expected \"restore\" or \"reset\" "
             "(\"leave\" needs host_power.during_flash = \"on\": a host turned off for the write "
             "is never left off), got \"leave\"");
    CHECK(error_of(minimal + "[host_power]\nqemu_accel = \"hvf\"\n")
          == "peer.toml:13: key 'host_power.qemu_accel': expected one of \"tcg\", \"kvm\", "
             "\"auto\", got \"hvf\"");
    // The backend appends its own machine options: a comma would smuggle in others.
    CHECK(error_of(minimal + "[host_power]\nqemu_machine = \"q35,pflash0=x\"\n")
          == "peer.toml:13: key 'host_power.qemu_machine': expected a QEMU machine type such as "
             "\"q35\", got \"q35,pflash0=x\"");
    CHECK(error_of(minimal + "[host_power]\nqemu_args = [\"\"]\n")
          == "peer.toml:13: key 'host_power.qemu_args[0]': expected a non-empty string of "
             "printable ASCII, got \"\"");
    CHECK(error_of(minimal + "[boot]\nsuccess_patterns = []\n")
          == "peer.toml:13: key 'boot.success_patterns': expected a non-empty array of strings, "
             "got an array");
  }
  SECTION("missing required key") {
    CHECK(error_of(replace(minimal, "id = \"bmc-a\"\n", ""))
          == "peer.toml: missing required key 'node.id'");
    CHECK(error_of(replace(minimal, "path = \"flash/bmc-a.fd\"\n", ""))
          == "peer.toml: missing required key 'flash.path'");
    CHECK(error_of(minimal + "[[donor.images]]\nimage = \"a.fd\"\n")
          == "peer.toml: missing required key 'donor.images[0].manifest'");
    CHECK(error_of(replace(minimal, "[\"keys/release.pub\"]", "[]"))
          == "peer.toml:9: key 'trust.manifest_keys': expected an array of at least one "
             "path string, got an empty array");
  }
  SECTION("TOML syntax error") {
    auto text = minimal + "[recovery]\nblock_window = \n";
    CHECK_THAT(error_of(text), Catch::StartsWith("peer.toml:13: TOML syntax error: "));
    CHECK(error_of(text).find('\n') == std::string::npos);
  }
  SECTION("bad address") {
    CHECK(error_of(minimal + "[lan]\ngroup = \"239.255.77\"\n")
          == "peer.toml:13: key 'lan.group': expected an IPv4 address in dotted-quad form, got "
             "\"239.255.77\"");
    CHECK(error_of(minimal + "[lan]\ninterface_address = \"localhost\"\n")
          == "peer.toml:13: key 'lan.interface_address': expected an IPv4 address in dotted-quad "
             "form, got \"localhost\"");
    for (std::string bad :
         {"10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:", "host:80", "10.0.0.1:+8"}) {
      CHECK(error_of(minimal + "[lan]\nstatic_peers = [\"10.0.0.2:47710\", \"" + bad + "\"]\n")
            == "peer.toml:13: key 'lan.static_peers[1]': expected \"IPv4:port\" with a port "
               "from 1 to 65535, got \""
                 + bad + "\"");
    }
  }
  SECTION("the earliest problem in the file is the one reported") {
    auto text = replace(minimal, "id = \"bmc-a\"\n", "id = \"bmc-a\"\nrole = 1\n")
                + "[recovery]\nblock_window = 0\n";
    CHECK(error_of(text)
          == "peer.toml:3: key 'node.role': expected one of \"peer\", \"console\", got an "
             "integer (1)");
  }
  SECTION("text from the file cannot break the error across lines") {
    auto text = replace(minimal, "id = \"bmc-a\"", "id = \"bmc\\na\"");
    CHECK(error_of(text)
          == "peer.toml:2: key 'node.id': expected a string of 1 to 32 characters from A-Z a-z "
             "0-9 . _ -, got \"bmc\\x0aa\"");
  }
}

TEST_CASE("the recovery policy is any non-empty name") {
  auto cfg = parse_config(minimal + "[recovery]\npolicy = \"no-such-policy\"\n", source);
  REQUIRE(cfg);
  CHECK(cfg->recovery.policy == "no-such-policy");
  CHECK(error_of(minimal + "[recovery]\npolicy = \"\"\n")
        == "peer.toml:13: key 'recovery.policy': expected a non-empty string (a policy name), "
           "got \"\"");
}

TEST_CASE("the flash backend is any non-empty name") {
  // The daemon checks it against its registry (a test binary adds backends of its own).
  auto cfg = parse_config(minimal + "backend = \"power-cut\"\n", source);
  REQUIRE(cfg);
  CHECK(cfg->flash.backend == "power-cut");
  CHECK(cfg->flash.path == "/etc/fwrescue/flash/bmc-a.fd");
  CHECK(error_of(minimal + "backend = \"\"\n")
        == "peer.toml:12: key 'flash.backend': expected a non-empty string (a flash backend "
           "name), got \"\"");
  CHECK(error_of(minimal + "backend = 3\n")
        == "peer.toml:12: key 'flash.backend': expected a non-empty string (a flash backend "
           "name), got an integer (3)");
}

TEST_CASE("the flash's component is a name of 1 to 32 characters from a-z 0-9 -") {
  auto cfg = parse_config(minimal + "component = \"nic\"\n", source);
  REQUIRE(cfg);
  CHECK(cfg->flash.component == "nic");
  const std::string expected = "peer.toml:12: key 'flash.component': expected a component name "
                               "of 1 to 32 characters from a-z 0-9 - (\"bios\", \"nic\"), got ";
  CHECK(error_of(minimal + "component = \"NIC\"\n") == expected + "\"NIC\"");
  CHECK(error_of(minimal + "component = \"\"\n") == expected + "\"\"");
  CHECK(error_of(minimal + "component = \"" + std::string(33, 'a') + "\"\n")
        == expected + "\"" + std::string(33, 'a') + "\"");
  CHECK(error_of(minimal + "component = 1\n")
        == "peer.toml:12: key 'flash.component': expected a component name of 1 to 32 "
           "characters from a-z 0-9 - (\"bios\", \"nic\"), got an integer (1)");
}

TEST_CASE("the flashrom backend needs a programmer and not a path") {
  auto flashrom = replace(minimal, "path = \"flash/bmc-a.fd\"\n", "backend = \"flashrom\"\n");
  auto cfg = parse_config(flashrom
                            + "programmer = \"linux_spi:dev=/dev/spidev0.0,spispeed=8000\"\n"
                              "chip = \"W25Q128.V\"\n",
                          source);
  REQUIRE(cfg);
  CHECK(cfg->flash.backend == "flashrom");
  CHECK(cfg->flash.programmer == "linux_spi:dev=/dev/spidev0.0,spispeed=8000");
  CHECK(cfg->flash.chip == "W25Q128.V");
  CHECK(cfg->flash.path.empty());
  auto probed = parse_config(flashrom + "programmer = \"internal\"\n", source);
  REQUIRE(probed);
  CHECK(probed->flash.chip.empty());
  CHECK(error_of(flashrom) == "peer.toml: missing required key 'flash.programmer'");
  CHECK(error_of(flashrom + "programmer = \":dev=/dev/mtd0\"\n")
        == "peer.toml:12: key 'flash.programmer': expected a flashrom programmer string, "
           "name[:parameters], of printable ASCII, got \":dev=/dev/mtd0\"");
  CHECK(error_of(flashrom + "programmer = \"internal\"\nchip = \"\"\n")
        == "peer.toml:13: key 'flash.chip': expected a chip name from flashrom's list, of "
           "printable ASCII, got \"\"");
}

TEST_CASE("the [policy] keys are checked like every other") {
  SECTION("a pin alone, or a list alone") {
    auto pinned = parse_config(minimal + "[policy]\npin_version = \"2.7.1\"\n", source);
    REQUIRE(pinned);
    CHECK(pinned->policy.pin_version == "2.7.1");
    CHECK(pinned->policy.allowed_versions.empty());
    auto listed = parse_config(
      minimal + "[policy]\nallowed_versions = [\"2.7.1\"]\npin_version = \"\"\n", source);
    REQUIRE(listed);
    CHECK(listed->policy.allowed_versions == std::vector<std::string>{"2.7.1"});
    CHECK(listed->policy.pin_version.empty());
  }
  SECTION("a pin must be in the list when both are given") {
    CHECK(error_of(minimal + "[policy]\nallowed_versions = [\"2.7.1\", \"2.8.0\"]\n"
                   + "pin_version = \"2.9.0\"\n")
          == "peer.toml:14: key 'policy.pin_version': expected \"\" or a version listed in "
             "policy.allowed_versions, got \"2.9.0\"");
  }
  SECTION("versions follow the manifest's text rule") {
    CHECK(error_of(minimal + "[policy]\nallowed_versions = [\"2.7.1\", \"\"]\n")
          == "peer.toml:13: key 'policy.allowed_versions[1]': expected a version string of 1 to "
             "64 printable ASCII characters, got \"\"");
    CHECK(error_of(minimal + "[policy]\nallowed_versions = \"2.7.1\"\n")
          == "peer.toml:13: key 'policy.allowed_versions': expected an array of version "
             "strings, got a string (\"2.7.1\")");
    CHECK(error_of(minimal + "[policy]\npin_version = \"2.7\\t1\"\n")
          == "peer.toml:13: key 'policy.pin_version': expected a version string of 1 to 64 "
             "printable ASCII characters, or \"\" for none, got \"2.7\\x091\"");
  }
  SECTION("allow_downgrade is a boolean") {
    CHECK(error_of(minimal + "[policy]\nallow_downgrade = 1\n")
          == "peer.toml:13: key 'policy.allow_downgrade': expected true or false, got an "
             "integer (1)");
  }
  SECTION("weights are numbers from 0 to 1000; an integer is read as a float") {
    auto cfg = parse_config(minimal + "[policy.scored]\nrole = 3\n", source);
    REQUIRE(cfg);
    CHECK(cfg->policy.scored.role == 3.0);
    CHECK(cfg->policy.scored.svn == 1.0);
    CHECK(error_of(minimal + "[policy.scored]\nload = -0.5\n")
          == "peer.toml:13: key 'policy.scored.load': expected a number from 0 to 1000, got "
             "-0.5");
    CHECK(error_of(minimal + "[policy.scored]\nlink = 1001\n")
          == "peer.toml:13: key 'policy.scored.link': expected a number from 0 to 1000, got "
             "1001");
    CHECK(error_of(minimal + "[policy.scored]\nhistory = nan\n")
          == "peer.toml:13: key 'policy.scored.history': expected a number from 0 to 1000, got "
             "nan");
    CHECK(error_of(minimal + "[policy.scored]\nsvn = inf\n")
          == "peer.toml:13: key 'policy.scored.svn': expected a number from 0 to 1000, got inf");
    CHECK(error_of(minimal + "[policy.scored]\nrole = \"1\"\n")
          == "peer.toml:13: key 'policy.scored.role': expected a number from 0 to 1000, got a "
             "string (\"1\")");
  }
  SECTION("unknown keys and tables") {
    CHECK(error_of(minimal + "[policy]\npinned_version = \"2.7.1\"\n")
          == "peer.toml:13: unknown key 'policy.pinned_version'");
    CHECK(error_of(minimal + "[policy.scored]\nspeed = 1\n")
          == "peer.toml:13: unknown key 'policy.scored.speed'");
    CHECK(error_of(minimal + "[policy.weights]\nrole = 1\n")
          == "peer.toml:12: unknown table 'policy.weights'");
    CHECK(error_of(minimal + "[policy]\nscored = 1\n")
          == "peer.toml:13: key 'policy.scored': expected a table ([policy.scored]), got an "
             "integer (1)");
  }
}

TEST_CASE("load_config reads a file and names it in errors") {
  test::temp_dir dir;
  auto path = dir.path("node.toml");
  test::write_bytes(path, bytes_of(minimal));
  auto cfg = load_config(path);
  REQUIRE(cfg);
  CHECK(cfg->source == path);
  CHECK(cfg->key == dir.path("keys/bmc-a.sec"));

  test::write_bytes(path, bytes_of(minimal + "[recovery]\nblock_window = 0\n"));
  auto bad = load_config(path);
  REQUIRE_FALSE(bad);
  CHECK(has_code(bad.error(), errc::invalid_argument));
  CHECK_THAT(describe(bad.error()), Catch::StartsWith(path + ":13: key 'recovery.block_window'"));

  auto missing = load_config(dir.path("absent.toml"));
  REQUIRE_FALSE(missing);
  CHECK(has_code(missing.error(), errc::io_failure));

  test::write_bytes(path, bytes_of(minimal + "# " + std::string(1 << 20, 'x') + "\n"));
  auto huge = load_config(path);
  REQUIRE_FALSE(huge);
  CHECK(has_code(huge.error(), errc::invalid_argument));
}

TEST_CASE("the example configurations parse") {
  const std::string examples = std::string{FWRESCUE_SOURCE_DIR} + "/config/examples/";
  auto peer = load_config(examples + "peer.toml");
  REQUIRE(peer);
  CHECK(peer->role == node_role::peer);
  CHECK(peer->donor.enabled);
  CHECK(peer->monitor.auto_recover);
  CHECK(peer->lan.static_peers.empty());
  CHECK(peer->flash.path == examples + "flash/bmc-a.fd");
  CHECK(peer->policy.allowed_versions.empty());
  CHECK_FALSE(peer->policy.allow_downgrade);
  CHECK(peer->policy.scored == scoring_weights{});

  auto console = load_config(examples + "console.toml");
  REQUIRE(console);
  CHECK(console->role == node_role::console);
  CHECK_FALSE(console->monitor.auto_recover);
  REQUIRE(console->donor.images.size() == 1);
  CHECK(console->donor.images[0].manifest == examples + "images/bios-q35-2.7.1.fwm");
  CHECK_FALSE(console->flash.path.empty());
}

TEST_CASE("a configuration that is not ASCII is refused, naming the line") {
  CHECK(error_of("\xef\xbb\xbb" + minimal)
        == "peer.toml:1: byte 0xef is not ASCII; the configuration is read as ASCII only "
           "(comments included)");
  CHECK(error_of(minimal + "# caf\xc3\xa9\n")
        == "peer.toml:12: byte 0xc3 is not ASCII; the configuration is read as ASCII only "
           "(comments included)");
}
