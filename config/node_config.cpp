#include "config/node_config.hpp"

#include <algorithm>
#include <cctype>
#include <arpa/inet.h>
#include <charconv>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "config/link_sections.hpp"
#include "config/dbus_section.hpp"
#include "config/flash_sections.hpp"
#include "config/redfish_section.hpp"
#include "config/source_sections.hpp"
#include "config/table_reader.hpp"

namespace fwrescue {

using namespace config_detail;

namespace {

/// A configuration is a page of text; anything bigger is a mistake, not a config.
constexpr uint64_t max_config_bytes = 1u << 20;

void read_node(table_reader r, node_config& cfg) {
  r.text("id", cfg.id, true, "a string of 1 to 32 characters from A-Z a-z 0-9 . _ -", valid_id);
  std::string role = to_string(cfg.role);
  r.one_of("role", role, {"peer", "console"});
  cfg.role = role == "console" ? node_role::console : node_role::peer;
  r.path("key", cfg.key, true);
  r.path("state_dir", cfg.state_dir, true);
  r.one_of("log_level", cfg.log_level, {"debug", "info", "warn", "error"});
  r.finish();
}

void read_platform(table_reader r, platform_id& platform) {
  constexpr auto what = "a string of 1 to 64 printable ASCII characters";
  r.text("vendor", platform.vendor, true, what, valid_platform_text);
  r.text("board", platform.board, true, what, valid_platform_text);
  r.finish();
}

void read_trust(table_reader r, node_config& cfg) {
  r.list("manifest_keys", cfg.manifest_keys, true, "an array of at least one path string",
         "a non-empty path string", valid_path, true);
  r.integer("svn_floor", cfg.svn_floor, 0, u32_max);
  r.list("console_keys", cfg.console_keys, false, "an array of path strings",
         "a non-empty path string", valid_path, true);
  r.list("revocation_keys", cfg.revocation_keys, false, "an array of path strings",
         "a non-empty path string", valid_path, true);
  r.path("revocation_list", cfg.revocation_list, false, true);
  r.finish();
}

bool valid_argument(std::string_view s) {
  return !s.empty() && s.size() <= 4096
         && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

/// A machine type, and nothing after it: the backend appends its own machine options.
bool valid_machine(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

void read_host_power(table_reader r, host_power_config& host_power) {
  r.text("backend", host_power.backend, false, "a non-empty string (a host power backend name)",
         non_empty);
  r.one_of("during_flash", host_power.during_flash, {"off", "reset", "on", "running"});
  if (host_power.during_flash == "running")
    host_power.during_flash = "on";
  auto* after = r.find("after_flash");
  r.one_of("after_flash", host_power.after_flash, {"restore", "reset", "leave"});
  // Leaving a host that was turned off for the write would leave it off after a success.
  if (after && host_power.after_flash == "leave" && host_power.during_flash != "on")
    r.diag().bad_value(*after, r.name("after_flash"),
                       "\"restore\" or \"reset\" (\"leave\" needs host_power.during_flash = "
                       "\"on\": a host turned off for the write is never left off)");
  r.one_of("at_start", host_power.at_start, {"keep", "on", "off"});
  r.text("qemu_binary", host_power.qemu_binary, false, "a non-empty string (a program name or "
         "path)", non_empty);
  r.text("qemu_machine", host_power.qemu_machine, false, "a QEMU machine type such as \"q35\"",
         valid_machine);
  r.integer("qemu_memory_mib", host_power.qemu_memory_mib, 16, 65536);
  r.one_of("qemu_accel", host_power.qemu_accel, {"tcg", "kvm", "auto"});
  r.list("qemu_args", host_power.qemu_args, false, "an array of strings",
         "a non-empty string of printable ASCII", valid_argument);
  r.path("firmware", host_power.firmware, false, true);
  r.integer("firmware_offset", host_power.firmware_offset, 0, int64_t{1} << 48);
  r.integer("firmware_size", host_power.firmware_size, 0, int64_t{1} << 48);
  r.path("vars_template", host_power.vars_template, false);
  r.integer("start_timeout_ms", host_power.start_timeout_ms, 100, 600000);
  r.integer("powerdown_timeout_ms", host_power.powerdown_timeout_ms, 0, 600000);
  r.integer("qmp_timeout_ms", host_power.qmp_timeout_ms, 100, 600000);
  r.finish();
}

bool valid_pattern(std::string_view s) {
  return !s.empty() && s.size() <= 256
         && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

void read_boot(table_reader r, boot_config& boot) {
  r.boolean("watch", boot.watch);
  r.path("console", boot.console, false, true);
  r.list("success_patterns", boot.success_patterns, false, "a non-empty array of strings",
         "a string of 1 to 256 printable ASCII characters", valid_pattern);
  // No pattern could ever match: every boot would count as failed.
  if (auto* n = r.find("success_patterns"); n && boot.success_patterns.empty())
    r.diag().bad_value(*n, r.name("success_patterns"), "a non-empty array of strings");
  r.integer("timeout_s", boot.timeout_s, 1, 86400);
  r.integer("failures_to_exclude", boot.failures_to_exclude, 1, 100);
  r.finish();
}

void read_monitor(table_reader r, monitor_config& monitor) {
  r.integer("interval_s", monitor.interval_s, 0, u32_max);
  r.boolean("check_at_start", monitor.check_at_start);
  r.boolean("auto_recover", monitor.auto_recover);
  r.finish();
}

void read_recovery(table_reader r, recovery_config& rec) {
  // The name is checked against the policy registry built in main(), which knows the names.
  r.text("policy", rec.policy, false, "a non-empty string (a policy name)", non_empty);
  r.integer("discovery_window_ms", rec.discovery_window_ms, 0, u32_max);
  r.integer("block_window", rec.block_window, 1, 1024);
  r.integer("verified_in_memory_mib", rec.verified_in_memory_mib, 0, 4096);
  r.integer("block_timeout_ms", rec.block_timeout_ms, 1, u32_max);
  r.integer("compress_below_kbps", rec.compress_below_kbps, 0, u32_max);
  r.integer("handshake_timeout_ms", rec.handshake_timeout_ms, 1, u32_max);
  r.integer("parallel_handshakes", rec.parallel_handshakes, 1, 16);
  r.integer("max_donors", rec.max_donors, 1, 16);
  r.integer("flash_retries", rec.flash_retries, 0, 100);
  r.integer("stall_timeout_s", rec.stall_timeout_s, 1, u32_max);
  r.integer("max_attempts", rec.max_attempts, 1, u32_max);
  auto* initial = r.integer("backoff_initial_ms", rec.backoff_initial_ms, 0, u32_max);
  auto* max = r.integer("backoff_max_ms", rec.backoff_max_ms, 0, u32_max);
  bool both_valid = (initial || !r.has("backoff_initial_ms")) && (max || !r.has("backoff_max_ms"));
  if (both_valid && rec.backoff_initial_ms > rec.backoff_max_ms) {
    if (initial)
      r.diag().bad_value(
        *initial, r.name("backoff_initial_ms"),
        fmt::format("an integer no larger than recovery.backoff_max_ms ({})", rec.backoff_max_ms));
    else if (max)
      r.diag().bad_value(*max, r.name("backoff_max_ms"),
                         fmt::format("an integer no smaller than recovery.backoff_initial_ms ({})",
                                     rec.backoff_initial_ms));
  }
  r.integer("busy_wait_s", rec.busy_wait_s, 0, 86400);
  read_sources(r, rec.sources);
  r.finish();
}

void read_scoring_weights(table_reader r, scoring_weights& w) {
  // Only the ratios between weights matter (every term lies in [0, 1]); 1000 to 1 is far past
  // any useful balance, and the bound keeps sums clear of overflow.
  constexpr double max_weight = 1000;
  r.number("role", w.role, 0, max_weight);
  r.number("svn", w.svn, 0, max_weight);
  r.number("load", w.load, 0, max_weight);
  r.number("link", w.link, 0, max_weight);
  r.number("history", w.history, 0, max_weight);
  r.finish();
}

void read_policy(table_reader r, policy_config& policy) {
  r.list("allowed_versions", policy.allowed_versions, false, "an array of version strings",
         "a version string of 1 to 64 printable ASCII characters", valid_version);
  auto* pin = r.text("pin_version", policy.pin_version, false,
                     "a version string of 1 to 64 printable ASCII characters, or \"\" for none",
                     valid_version_or_none);
  // A pin outside the list would refuse every offer: say so now rather than at recovery time.
  const auto& allowed = policy.allowed_versions;
  if (pin && !policy.pin_version.empty() && !allowed.empty()
      && std::find(allowed.begin(), allowed.end(), policy.pin_version) == allowed.end())
    r.diag().bad_value(*pin, r.name("pin_version"),
                       "\"\" or a version listed in policy.allowed_versions");
  r.boolean("allow_downgrade", policy.allow_downgrade);
  read_scoring_weights(r.child("scored"), policy.scored);
  r.finish();
}

void read_donor_images(table_reader& r, std::vector<donor_image_config>& images) {
  auto* n = r.find("images");
  if (!n)
    return;
  constexpr auto what = "an array of tables ([[donor.images]])";
  auto* arr = n->as_array();
  if (!arr || !arr->is_array_of_tables())
    return r.diag().wrong_type(*n, r.name("images"), what);
  for (size_t i = 0; i < arr->size(); ++i) {
    table_reader item = r.element("images", i, *arr->get(i)->as_table());
    donor_image_config image;
    item.path("image", image.image, true);
    item.path("manifest", image.manifest, true);
    item.finish();
    images.push_back(std::move(image));
  }
}

void read_donor(table_reader r, donor_config& donor) {
  r.boolean("enabled", donor.enabled);
  r.boolean("serve_installed", donor.serve_installed);
  read_donor_images(r, donor.images);
  // Zero would answer every request Busy; donor.enabled = false is the way to stop serving.
  r.integer("max_uploads", donor.max_uploads, 1, u32_max);
  r.integer("upload_rate_kbps", donor.upload_rate_kbps, 0, u32_max);
  r.finish();
}

void read_limits(table_reader r, limits_config& l) {
  r.integer("sessions", l.sessions, 1, 65536);
  r.integer("sessions_per_source", l.sessions_per_source, 1, 65536);
  r.integer("handshake_ms", l.handshake_ms, 1, u32_max);
  r.integer("idle_ms", l.idle_ms, 1, u32_max);
  // A session must hold at least one frame of the largest kind (2 MiB) and a little more.
  r.integer("queued_kib", l.queued_kib, 4096, 4 << 20);
  r.integer("inbound_kib", l.inbound_kib, 4096, 4 << 20);
  r.integer("requested_blocks", l.requested_blocks, 1024, u32_max);
  r.integer("min_rate_kbps", l.min_rate_kbps, 0, u32_max);
  r.integer("offers_remembered", l.offers_remembered, 1, 1 << 20);
  r.integer("offers_per_request", l.offers_per_request, 1, 1 << 20);
  r.integer("offers_per_source", l.offers_per_source, 1, 1 << 20);
  r.integer("answers_per_s", l.answers_per_s, 1, u32_max);
  r.integer("answers_per_source_per_s", l.answers_per_source_per_s, 1, u32_max);
  r.integer("sources_tracked", l.sources_tracked, 1, 1 << 20);
  r.integer("descriptor_reserve", l.descriptor_reserve, 16, 65536);
  r.finish();
}

void read_supervisor(table_reader r, supervisor_config& sup) {
  r.integer("max_restarts", sup.max_restarts, 0, u32_max);
  r.integer("restart_window_s", sup.restart_window_s, 1, u32_max);
  r.finish();
}

/// The directory relative paths are resolved against: the one holding `source`.
caf::expected<fs::path> base_directory(const std::string& source) {
  std::error_code ec;
  auto dir = fs::path{source}.parent_path();
  auto base = dir.empty() ? fs::current_path(ec) : fs::absolute(dir, ec);
  if (ec)
    return make_error(errc::io_failure,
                      fmt::format("{}: cannot resolve the directory relative paths are read "
                                  "against: {}",
                                  source, ec.message()));
  return base.lexically_normal();
}

} // namespace

std::string node_config::admin_socket() const {
  if (!admin.socket.empty())
    return admin.socket;
  return (fs::path{state_dir} / "admin.sock").string();
}

caf::expected<node_config> parse_config(std::string_view text, const std::string& source) {
  auto base = base_directory(source);
  if (!base)
    return base.error();
  // Every value the configuration holds is ASCII. The TOML parser (toml++ 3.3) reaches undefined
  // behaviour on some non-ASCII characters where it expects whitespace, so they are refused
  // before it sees them, comments included.
  for (size_t i = 0, line = 1; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n')
      ++line;
    if (c >= 0x80)
      return make_error(errc::invalid_argument,
                        fmt::format("{}:{}: byte {:#04x} is not ASCII; the configuration is "
                                    "read as ASCII only (comments included)",
                                    source, line, c));
  }
  toml::table root;
  try {
    root = toml::parse(text, std::string_view{source});
  } catch (const toml::parse_error& e) {
    return make_error(errc::invalid_argument,
                      fmt::format("{}:{}: TOML syntax error: {}", source, e.source().begin.line,
                                  printable(e.description())));
  }
  diagnostics diag{source};
  node_config cfg;
  cfg.source = source;
  table_reader top{diag, &root, "", *base};
  read_node(top.child("node"), cfg);
  read_platform(top.child("platform"), cfg.platform);
  read_trust(top.child("trust"), cfg);
  read_flash(top.child("flash"), cfg.flash);
  read_targets(top, cfg);
  read_host_power(top.child("host_power"), cfg.host_power);
  read_boot(top.child("boot"), cfg.boot);
  read_monitor(top.child("monitor"), cfg.monitor);
  read_recovery(top.child("recovery"), cfg.recovery);
  read_policy(top.child("policy"), cfg.policy);
  read_donor(top.child("donor"), cfg.donor);
  read_lan(top.child("lan"), cfg.lan);
  read_icmb(top.child("icmb"), cfg.icmb);
  read_ble(top.child("ble"), cfg.ble);
  auto listed = [&](std::string_view name) {
    return std::find(cfg.recovery.sources.begin(), cfg.recovery.sources.end(), name)
           != cfg.recovery.sources.end();
  };
  read_local(top.child("local"), cfg.local, listed("local"));
  read_removable(top.child("removable"), cfg.removable, listed("removable"));
  read_http(top.child("http"), cfg.http, listed("http"));
  auto admin = top.child("admin");
  admin.path("socket", cfg.admin.socket, false, true);
  admin.finish();
  read_dbus(top.child("dbus"), cfg.dbus);
  read_redfish(top.child("redfish"), cfg.redfish);
  auto metrics = top.child("metrics");
  metrics.text("listen", cfg.metrics.listen, false,
               "\"IPv4:port\" with a port from 1 to 65535, or \"\" for none",
               valid_endpoint_or_empty);
  metrics.finish();
  read_supervisor(top.child("supervisor"), cfg.supervisor);
  read_limits(top.child("limits"), cfg.limits);
  top.finish();
  if (auto err = diag.first())
    return err;
  return cfg;
}

std::vector<std::string> enabled_links(const node_config& config) {
  std::vector<std::string> out;
  if (config.lan.enabled)
    out.emplace_back("lan");
  if (config.icmb.enabled)
    out.emplace_back("icmb");
  if (config.ble.enabled)
    out.emplace_back("ble");
  return out;
}

caf::expected<node_config> load_config(const std::string& path) {
  auto bytes = read_file(path, max_config_bytes, "configuration");
  // An oversized file is a bad argument to the daemon like any other bad config; only a file
  // that cannot be read at all is an io_failure.
  if (!bytes && has_code(bytes.error(), errc::malformed))
    return make_error(errc::invalid_argument, describe(bytes.error()));
  if (!bytes)
    return bytes.error();
  std::string_view text{reinterpret_cast<const char*>(bytes->data()), bytes->size()};
  return parse_config(text, path);
}

} // namespace fwrescue
