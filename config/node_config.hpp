#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "config/source_config.hpp"
#include "messages/manifest.hpp"
#include "messages/node.hpp"
#include "policies/scoring_weights.hpp"

namespace fwrescue {

/// [flash]: the flash chip of the firmware target this node recovers.
struct flash_config {
  /// The firmware target this flash holds ("bios", "nic", ...): only manifests naming it are
  /// asked for, accepted, served as the own flash's and written here.
  std::string component = default_component;
  /// Backend name from the registry built in main(): "file", "flashrom".
  std::string backend = "file";
  /// file backend: the file holding the flash contents; its size is the chip's size.
  std::string path;
  /// flashrom backend: the programmer string as flashrom's -p takes it, "name[:parameters]"
  /// ("linux_mtd", "linux_spi:dev=/dev/spidev0.0", "internal").
  std::string programmer;
  /// flashrom backend: the chip's name in flashrom's list ("W25Q128.V"); empty probes for it.
  std::string chip;
  /// Smallest erasable unit in bytes (power of two, >= 256).
  uint32_t erase_size = 4096;
  /// Largest programmable page in bytes (power of two, <= erase_size).
  uint32_t program_size = 256;
  /// file backend: a larger erase unit of the chip (0: none); a power-of-two multiple of
  /// erase_size. Erases cover aligned whole blocks with it, and the flasher plans for it.
  uint32_t block_erase_size = 65536;
  /// Datasheet timing model of the file backend: "none" or a part whose figures fill the
  /// microseconds below ("w25q256"); keys given beside it override them.
  std::string timing = "none";
  /// Microseconds per sector erase, block erase and page program (0: no delay).
  uint32_t erase_us = 0;
  uint32_t block_erase_us = 0;
  uint32_t program_us = 0;
  /// The region of the chip the image occupies: from this byte (a multiple of erase_size) ...
  uint64_t region_offset = 0;
  /// ... for this many bytes (a multiple of erase_size; 0: to the end of the chip). On x86 the
  /// BIOS region ends at the top of the chip, where the CPU starts.
  uint64_t region_size = 0;
  friend bool operator==(const flash_config&, const flash_config&) = default;
};

/// A node looks after at most this many firmware targets (the first, and [[target]] entries).
constexpr size_t max_targets = 8;

/// [[target]]: a firmware target beyond the one [flash] describes (a NIC's flash, a CPLD's, a
/// second BIOS region), with its own flash, installed manifest, monitor, journal and recovery.
struct target_config {
  /// Its name in status and on the command line.
  std::string name;
  /// [target.flash]: its chip, with the same keys as [flash]; `component` names its firmware.
  flash_config flash;
  /// "none": written without touching the host (the device has power of its own); "host": the
  /// host is quieted during the write as [host_power] says, taking turns with the node's other
  /// targets that share it.
  std::string host_power = "none";
  /// Its installed manifest, journal and staging file; default: node.state_dir/<name>.
  std::string state_dir;
  friend bool operator==(const target_config&, const target_config&) = default;
};

/// [host_power]: how the host is kept quiet while its flash is rewritten.
struct host_power_config {
  /// Backend name, from the daemon's registry: "sim" (a state file) or "qemu" (an emulated
  /// machine booting the flash, docs/host.md).
  std::string backend = "sim";
  /// "off" powers the host off during flashing (DC off); "reset" holds it in reset; "on" leaves
  /// it running while the BMC writes (DC on: a board whose SPI mux gives the BMC the chip while
  /// the host runs). "running" is read as "on".
  std::string during_flash = "off";
  /// How a new image reaches the host once written: "restore" the state it had before the
  /// recovery; "reset" the host now (power it on, release it, or restart it, so it boots the new
  /// image); "leave" it as it is, for its next boot ("on" only: the host is never left off).
  std::string after_flash = "restore";
  /// The host's power when the daemon starts: "on" powers it on (as a BMC's power-restore
  /// policy "always on" does), "off" powers it off, "keep" leaves it as it is.
  std::string at_start = "keep";

  // The "qemu" backend (docs/host.md).
  std::string qemu_binary = "qemu-system-x86_64";
  std::string qemu_machine = "q35";
  uint32_t qemu_memory_mib = 256;
  /// "tcg" (emulation, works everywhere), "kvm", or "auto" (KVM when /dev/kvm can be opened).
  std::string qemu_accel = "tcg";
  /// Extra arguments appended to QEMU's command line.
  std::vector<std::string> qemu_args;
  /// The file the host boots from and the firmware's part of it; empty: flash.path with the
  /// flash region (flash.region_offset, flash.region_size).
  std::string firmware;
  uint64_t firmware_offset = 0;
  /// 0: to the end of the file.
  uint64_t firmware_size = 0;
  /// The UEFI variable store the host's own copy starts from.
  std::string vars_template = "/usr/share/OVMF/OVMF_VARS_4M.fd";
  uint32_t start_timeout_ms = 10000;
  uint32_t powerdown_timeout_ms = 10000;
  uint32_t qmp_timeout_ms = 3000;
};

/// [boot]: watching the host's serial console after every power-on the daemon makes.
struct boot_config {
  /// Watch boots at all; only backends that capture the console (or `console`) can.
  bool watch = true;
  /// The console log to read; empty: the one the host_power backend captures.
  std::string console;
  /// Any of these substrings in the console's new output means the host booted.
  std::vector<std::string> success_patterns = {"UEFI Interactive Shell", "login:"};
  /// Seconds from power-on to a success pattern; past it the boot failed.
  uint32_t timeout_s = 120;
  /// An image that verifies but failed to boot this many times in a row is recorded as failed
  /// for this host and excluded from the next image request. Until then a failed boot is tried
  /// again with a power cycle.
  uint32_t failures_to_exclude = 2;
};

/// [monitor]: checking the flash against the installed manifest.
struct monitor_config {
  /// Seconds between checks; 0 checks only at start and on request.
  uint32_t interval_s = 60;
  bool check_at_start = true;
  /// Start a recovery by itself when the flash does not match.
  bool auto_recover = true;
};

/// [recovery]: how a recipient looks for and pulls an image.
struct recovery_config {
  /// Donor-selection policy name, checked against the registry built in main():
  /// "fastest-link", "first-responder", "least-loaded", "newest", "prefer-console", "scored".
  std::string policy = "prefer-console";
  /// How long to collect offers after an image request, in milliseconds.
  uint32_t discovery_window_ms = 300;
  /// Block requests kept outstanding during a transfer (1..1024).
  uint32_t block_window = 128;
  /// Verified pulled blocks are also kept in memory when the image is at most this many MiB;
  /// the flasher writes them without checking them again. 0 keeps none.
  uint32_t verified_in_memory_mib = 64;
  /// A donor that sends nothing for this long is dropped.
  uint32_t block_timeout_ms = 2000;
  /// Blocks are asked for compressed with zstd on a session whose link's nominal rate is known
  /// and below this many kbit/s; 0 never asks.
  uint32_t compress_below_kbps = 100000;
  /// A donor that has not confirmed this long after its session was asked for is dropped.
  uint32_t handshake_timeout_ms = 1000;
  /// Donors being connected to and asked to confirm at once: the next one is tried while the
  /// ones before it have not answered, so donors that never answer cost little time.
  uint32_t parallel_handshakes = 3;
  /// Donors of one image pulled from at once, each asked for different blocks; more are asked
  /// for while fewer are at hand (nodes recovering the same image offer what they hold).
  uint32_t max_donors = 1;
  /// A flash that fails is tried again this many times from the verified staged image before
  /// the recovery asks the network again.
  uint32_t flash_retries = 2;
  /// A recovery phase that makes no progress for this long fails the attempt.
  uint32_t stall_timeout_s = 120;
  /// Whole attempts (discover, negotiate, transfer) before giving up.
  uint32_t max_attempts = 5;
  /// Backoff between attempts: starts here and doubles up to the maximum.
  uint32_t backoff_initial_ms = 200;
  uint32_t backoff_max_ms = 5000;
  /// An attempt in which every donor answered busy is a wait, not a failure: the recovery asks
  /// again after half the wait the donors asked for (within the backoff bounds) without
  /// counting it, for this long in all.
  uint32_t busy_wait_s = 600;
  /// Where images are looked for, in this order (any subset of "local", "removable", "peers",
  /// "http"; each name once); each but peers has its own table.
  std::vector<std::string> sources = {"peers"};
};

/// [policy]: which offers a recipient accepts beyond signer, platform, svn floor and size, and
/// the weights of the `scored` policy. docs/policies.md explains each rule.
struct policy_config {
  /// Versions accepted, compared exactly; empty accepts any version.
  std::vector<std::string> allowed_versions;
  /// When not empty, the only version accepted; must be in allowed_versions when that is set.
  std::string pin_version;
  /// Accept an image whose svn is below the installed one (never below the svn floor).
  bool allow_downgrade = false;
  /// [policy.scored]
  scoring_weights scored;
};

/// One image a node offers besides its own flash: [[donor.images]].
struct donor_image_config {
  std::string image;
  std::string manifest;
};

/// [donor]: serving images to peers.
struct donor_config {
  bool enabled = true;
  /// Also offer this node's own flash image while it verifies against the installed manifest.
  bool serve_installed = true;
  std::vector<donor_image_config> images;
  /// Concurrent uploads; further accepts are answered Busy.
  uint32_t max_uploads = 2;
  /// Upload rate cap in kilobits per second over all uploads, so serving peers never starves
  /// the BMC's own work; 0 means no cap.
  uint32_t upload_rate_kbps = 0;
};

/// [lan]: UDP discovery and TCP sessions over IP.
struct lan_config {
  bool enabled = true;
  /// Multicast group (or broadcast address) image requests are sent to.
  std::string group = "239.255.77.1";
  uint16_t discovery_port = 47710;
  /// Local IPv4 address of the interface used for discovery and sessions.
  std::string interface_address = "127.0.0.1";
  /// TCP port for sessions; 0 picks a free one.
  uint16_t session_port = 0;
  /// "IPv4:port" discovery addresses of peers reached by unicast (routed networks).
  std::vector<std::string> static_peers;
  uint8_t multicast_ttl = 1;
};

/// [icmb]: the Intelligent Chassis Management Bus, a half-duplex RS-485 serial bus shared by the
/// chassis of a rack (docs/slow-links.md).
struct icmb_config {
  bool enabled = false;
  /// The serial device on the bus ("/dev/ttyS1"); required when enabled.
  std::string device;
  uint32_t baud = 19200;
  /// This node's 16-bit bus address, 1..0xfffe (0xffff is broadcast); required when enabled.
  uint16_t address = 0;
  /// Payload bytes per bus frame; 0 leaves the transport's default.
  uint32_t frame_payload = 0;
};

/// [ble]: L2CAP LE connection-oriented channels over Bluetooth LE (docs/ble.md).
struct ble_config {
  bool enabled = false;
  /// This node's adapter address ("AA:BB:CC:DD:EE:FF"); empty binds any adapter. Required
  /// with `emulation`, where it names the node's socket.
  std::string address;
  uint16_t psm = 0x81;
  /// The adapter addresses of the other nodes: BLE has no broadcast at this layer, so discovery
  /// asks each of them.
  std::vector<std::string> peers;
  /// SDU size asked for on each channel.
  uint32_t mtu = 247;
  /// A directory of Unix sockets standing in for the radio (tests and demos); empty uses
  /// Bluetooth.
  std::string emulation;
  uint32_t emulated_rate_kbps = 500;
  uint32_t emulated_credits = 8;
};

/// [limits]: what a remote peer can make this node spend. Every one of them has a safe default;
/// docs/architecture.md ("What a hostile peer can cost us") says where each is enforced.
struct limits_config {
  /// Inbound sessions open at once, in all and from one IP address.
  uint32_t sessions = 64;
  uint32_t sessions_per_source = 8;
  /// An inbound session must deliver its first frame (the signed accept) within this.
  uint32_t handshake_ms = 5000;
  /// A session that carries nothing in either direction for this long is closed.
  uint32_t idle_ms = 15000;
  /// Bytes queued to send on one session; a session whose peer does not read past this is
  /// aborted. A donor answers block requests only while its queue is below half of this.
  uint32_t queued_kib = 4096;
  /// Bytes received on one session and not yet handled; reading from it pauses beyond this.
  uint32_t inbound_kib = 4096;
  /// Blocks one upload may have asked for and not yet been sent.
  uint32_t requested_blocks = 1024;
  /// Lowest rate, in kilobits per second, an upload or a pull may fall to over idle_ms while it
  /// has work outstanding (capped at a quarter of the link's nominal rate).
  uint32_t min_rate_kbps = 64;
  /// Offers a donor keeps for accepts to take up, and offers a recipient takes from one request.
  uint32_t offers_remembered = 256;
  uint32_t offers_per_request = 32;
  /// Offers a recipient takes from one source address for one request: a host that answers
  /// with many identities still fills only this many of the places above.
  uint32_t offers_per_source = 8;
  /// Unauthenticated datagrams answered per second, in all and per source address (a signed
  /// offer costs CPU and is larger than the request it answers).
  uint32_t answers_per_s = 50;
  uint32_t answers_per_source_per_s = 2;
  /// Source addresses whose rate is tracked; the least recently heard is forgotten first.
  uint32_t sources_tracked = 1024;
  /// File descriptors kept free for the flash, the store and the admin socket: inbound
  /// sessions are refused before the process's limit comes closer than this.
  uint32_t descriptor_reserve = 64;
};

/// [admin]: the local endpoint `fwrescue status` and `fwrescue recover` talk to.
struct admin_config {
  /// Unix socket path; empty means "<state_dir>/admin.sock".
  std::string socket;
};

/// [dbus]: the firmware targets as OpenBMC software objects on D-Bus (docs/dbus.md).
struct dbus_config {
  bool enabled = false;
  /// "system", "session", or a D-Bus server address ("unix:path=/run/test-bus").
  std::string bus = "system";
  /// The well-known name taken on the bus; the system bus's policy file must allow it.
  std::string name = "xyz.openbmc_project.Software.FwRescue";
  /// How often the properties are read again from the targets' status, in milliseconds.
  uint32_t refresh_ms = 500;
  friend bool operator==(const dbus_config&, const dbus_config&) = default;
};

/// [redfish]: the Redfish service (docs/redfish.md), over HTTPS with HTTP Basic authentication.
struct redfish_config {
  bool enabled = false;
  /// "IPv4:port" to listen on.
  std::string listen = "127.0.0.1:8443";
  /// The server's certificate chain and private key (PEM); required when enabled.
  std::string cert_file;
  std::string key_file;
  /// A file of "user:HASH" lines (HASH from `fwrescue passwd`); required when enabled.
  std::string credentials;
  /// Requests handled at once; further connections wait for a thread.
  uint32_t threads = 2;
  /// Largest request body accepted.
  uint32_t max_body_kib = 64;
  /// A request that sends or reads nothing for this long is cut.
  uint32_t timeout_s = 10;
  /// Finished tasks kept for clients to read; the oldest go first.
  uint32_t tasks_kept = 32;
  friend bool operator==(const redfish_config&, const redfish_config&) = default;
};

/// [metrics]: the Prometheus endpoint (docs/metrics.md).
struct metrics_config {
  /// "IPv4:port" to serve GET /metrics on; empty: no listener of its own.
  std::string listen;
};

/// [supervisor]: restart limits.
struct supervisor_config {
  /// More than this many restarts within the window puts the node in safe hold.
  uint32_t max_restarts = 5;
  uint32_t restart_window_s = 60;
};

/// The whole validated configuration of one node. Paths are absolute: relative paths in the
/// file are resolved against the file's directory.
struct node_config {
  /// The file this was read from (for messages).
  std::string source;

  // [node]
  std::string id;
  node_role role = node_role::peer;
  /// The node's Ed25519 identity (secret key file); offers and accepts are signed with it.
  std::string key;
  /// Directory for the installed manifest, journal, svn floor and staged image.
  std::string state_dir;
  std::string log_level = "info";

  // [platform]
  platform_id platform;

  // [trust]
  /// Public key files of the keys allowed to sign manifests (at least one).
  std::vector<std::string> manifest_keys;
  /// Minimum svn accepted from config; the stored floor in state_dir may be higher.
  uint32_t svn_floor = 0;
  /// Node key files of the management consoles. An offer claims the console role only when
  /// signed by one of them; any other key's claim counts as a peer's.
  std::vector<std::string> console_keys;
  /// Public key files of the keys allowed to sign revocation lists; empty: the manifest keys.
  std::vector<std::string> revocation_keys;
  /// A revocation list file to install at start (and on reload) when it is newer than the one
  /// held; a console publishes it to its peers from there. Empty: none.
  std::string revocation_list;

  flash_config flash;
  /// The node's further firmware targets ([[target]]).
  std::vector<target_config> targets;
  host_power_config host_power;
  boot_config boot;
  monitor_config monitor;
  recovery_config recovery;
  policy_config policy;
  donor_config donor;
  lan_config lan;
  icmb_config icmb;
  ble_config ble;
  local_source_config local;
  removable_source_config removable;
  http_source_config http;
  admin_config admin;
  dbus_config dbus;
  redfish_config redfish;
  metrics_config metrics;
  supervisor_config supervisor;
  limits_config limits;

  /// The admin socket path after applying the default.
  std::string admin_socket() const;
};

/// The link sections enabled, in the order the node runs them: "lan", "icmb", "ble".
std::vector<std::string> enabled_links(const node_config& config);

/// Parses and validates configuration text. `source` names it in errors, which read
/// "FILE:LINE: key 'section.key': expected …" (errc::invalid_argument).
caf::expected<node_config> parse_config(std::string_view text, const std::string& source);

/// Reads and parses a configuration file.
caf::expected<node_config> load_config(const std::string& path);

} // namespace fwrescue
