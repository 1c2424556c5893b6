#include "tools/fwrescue/admin_commands.hpp"

#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "tools/fwrescue/admin_client.hpp"
#include "tools/fwrescue/fleet_view.hpp"
#include "tools/fwrescue/image_commands.hpp"
#include "tools/fwrescue/status_watch.hpp"

namespace fwrescue::cli {

namespace {

/// Seconds since the epoch as "2026-12-07 01:17:22 UTC".
std::string utc_time(int64_t seconds) {
  std::tm tm{};
  auto t = static_cast<std::time_t>(seconds);
  if (!::gmtime_r(&t, &tm))
    return std::to_string(seconds);
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", tm);
}

using json = nlohmann::ordered_json;

std::string text(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string{};
}

void print_status(const json& s) {
  fmt::print("node        {} ({}), state {}{}, policy {}\n", text(s, "node"), text(s, "role"),
             text(s, "state"), s.value("safe_hold", false) ? " — SAFE HOLD" : "",
             text(s, "policy"));
  if (s["installed"].is_object()) {
    const auto& i = s["installed"];
    fmt::print("installed   {} {} svn {} (root {}), svn floor {}\n", text(i, "platform"),
               text(i, "version"), i.value("svn", 0), text(i, "root").substr(0, 16),
               s.value("svn_floor", 0));
  } else {
    fmt::print("installed   none recorded, svn floor {}\n", s.value("svn_floor", 0));
  }
  if (s.contains("last_check")) {
    const auto& c = s["last_check"];
    auto fault = c.contains("fault") && c["fault"].is_string()
                   ? " — FAULT (" + c["fault"].get<std::string>() + "): no recovery starts"
                   : std::string{};
    fmt::print("last check  {}{}\n", text(c, "detail"), fault);
  }
  if (s.contains("links") && s["links"].is_array())
    for (const auto& l : s["links"]) {
      if (!l.is_object())
        continue;
      if (l.value("up", false))
        fmt::print("link        {} up at {} ({} bit/s)\n", text(l, "name"), text(l, "address"),
                   l.value("rate_bps", uint64_t{0}));
      else
        fmt::print("link        {} DOWN: {}\n", text(l, "name"), text(l, "error"));
    }
  if (s.contains("turned_away") && s["turned_away"].is_object())
    fmt::print("turned away {} datagram(s), {} session(s) over the limits{}\n",
               s["turned_away"].value("datagrams", 0), s["turned_away"].value("sessions", 0),
               s.contains("revocation_list")
                 ? fmt::format("; revocation list {}", s.value("revocation_list", 0))
                 : std::string{});
  if (s.contains("recovery"))
    fmt::print("recovering  {} (attempt {}{})\n", text(s["recovery"], "reason"),
               s["recovery"].value("attempt", 0),
               text(s["recovery"], "donor").empty() ? ""
                                                    : ", donor " + text(s["recovery"], "donor"));
  if (s.contains("progress")) {
    const auto& p = s["progress"];
    fmt::print("progress    {} {}% ({} of {} {})\n", text(p, "phase"), p.value("percent", 0),
               p.value("done", 0), p.value("total", 0),
               text(p, "phase") == "flashing" ? "sectors" : "blocks");
  }
  if (s.contains("last_recovery")) {
    const auto& r = s["last_recovery"];
    if (r.value("succeeded", false))
      fmt::print("last recovery  succeeded: {} from {} in {} ms\n", text(r, "version"),
                 text(r, "donor"), r.value("duration_ms", 0));
    else
      fmt::print("last recovery  FAILED after {} ms: {}\n", r.value("duration_ms", 0),
                 text(r, "detail"));
  }
  if (s.contains("sources") && s["sources"].is_object() && s["sources"].contains("tried"))
    for (const auto& t : s["sources"]["tried"])
      fmt::print("source      {:<10} {}\n", text(t, "source"), text(t, "result"));
  if (s.contains("host") && s["host"].is_object() && s["host"].contains("last_error")) {
    const auto& e = s["host"]["last_error"];
    fmt::print("host error  {} {}\n", utc_time(e.value("at", int64_t{0})), text(e, "what"));
  }
  if (s.contains("boot") && s["boot"].is_object()) {
    const auto& b = s["boot"];
    if (!b.value("watching", false)) {
      fmt::print("boots       not watched (no console to read)\n");
    } else {
      fmt::print("boots       watched on {}\n", text(b, "console"));
      for (const auto& r : b["history"])
        fmt::print("  {} {:<7} root {}  {}\n", utc_time(r.value("at", int64_t{0})),
                   r.value("booted", false) ? "booted" : "FAILED", text(r, "root").substr(0, 16),
                   text(r, "detail"));
      for (const auto& root : b["failed_roots"])
        if (root.is_string())
          fmt::print("  excluded: root {} failed to boot on this host\n",
                     root.get<std::string>().substr(0, 16));
    }
  }
  if (s.contains("targets") && s["targets"].is_array())
    for (const auto& t : s["targets"]) {
      if (!t.is_object())
        continue;
      std::string installed = "nothing installed";
      if (t.contains("installed") && t["installed"].is_object())
        installed = fmt::format("{} svn {}", text(t["installed"], "version"),
                                t["installed"].value("svn", 0));
      fmt::print("target      {} ({}): {}, {}; {}\n", text(t, "target"), text(t, "component"),
                 text(t, "state"), installed,
                 t.contains("last_check") ? text(t["last_check"], "detail") : std::string{});
      if (t.contains("last_recovery") && t["last_recovery"].is_object()) {
        const auto& r = t["last_recovery"];
        fmt::print("              last recovery {} from {}{}\n",
                   r.value("succeeded", false) ? "succeeded" : "FAILED", text(r, "donor"),
                   r.value("succeeded", false) ? "" : ": " + text(r, "detail"));
      }
    }
  if (s.contains("last_negotiation")) {
    const auto& n = s["last_negotiation"];
    fmt::print("last negotiation ({}):\n", text(n, "policy"));
    for (const auto& o : n["offers"]) {
      auto verdict = o.value("compatible", false) ? fmt::format("rank {}", o.value("rank", 0))
                                                  : "rejected: " + text(o, "reason");
      if (!text(n, "accepted").empty() && text(o, "donor") == text(n, "accepted"))
        verdict += ", accepted";
      fmt::print("  {:<16} {:<8} {:<20} svn {:<4} {}\n", text(o, "donor"), text(o, "role"),
                 text(o, "version"), o.value("svn", 0), verdict);
    }
  }
}

void add_admin_options(CLI::App* cmd, admin_options& opts) {
  cmd->add_option("--socket", opts.socket, "The daemon's admin socket");
  cmd->add_option("--config", opts.config, "The daemon's configuration (to find its socket)");
}

} // namespace

void add_status(CLI::App& app, admin_options& opts) {
  auto* cmd = app.add_subcommand("status", "Show a running daemon's state and last recovery");
  add_admin_options(cmd, opts);
  auto* as_json =
    cmd->add_flag("--json", opts.json, "Print the daemon's JSON status object (docs/status.md)");
  auto* watch = cmd->add_flag("--watch", opts.watch,
                              "Keep showing each target's phase, progress, rate and time left");
  cmd->add_option("--interval", opts.interval_s, "Seconds between refreshes of --watch")
    ->check(CLI::Range(0.1, 3600.0))
    ->needs(watch);
  cmd->add_flag("--until-done", opts.until_done,
                "With --watch: stop once no target is recovering; exit 1 if a recovery failed")
    ->needs(watch);
  watch->excludes(as_json);
}

void add_recover(CLI::App& app, admin_options& opts) {
  auto* cmd = app.add_subcommand("recover", "Ask a running daemon to recover its flash now");
  add_admin_options(cmd, opts);
  cmd->add_option("--target", opts.target,
                  "The firmware target to recover (a [[target]] name); default: the first");
}

int run_status(const admin_options& opts) {
  if (opts.watch)
    return run_status_watch(opts);
  auto answer = ask_daemon(opts, "status");
  if (!answer) {
    fmt::print(stderr, "fwrescue status: {}\n", describe(answer.error()));
    return exit_error;
  }
  if (opts.json)
    fmt::print("{}\n", (*answer)["status"].dump());
  else
    print_status((*answer)["status"]);
  return exit_ok;
}

int run_recover(const admin_options& opts) {
  auto answer = ask_daemon(opts, "recover");
  if (!answer) {
    fmt::print(stderr, "fwrescue recover: {}\n", describe(answer.error()));
    return exit_error;
  }
  fmt::print("{}\n", text(*answer, "message"));
  return exit_ok;
}

void add_fleet(CLI::App& app, admin_options& opts) {
  auto* cmd = app.add_subcommand(
    "fleet", "Ask every reachable node (signed) for its targets' images, states and recoveries");
  add_admin_options(cmd, opts);
  cmd->add_flag("--json", opts.json, "Print the fleet as JSON (docs/fleet.md)");
  cmd
    ->add_option("--wait-ms", opts.wait_ms,
                 "Milliseconds to collect answers (default: the daemon's discovery window)")
    ->check(CLI::Range(1, 10000));
}

int run_fleet(const admin_options& opts) {
  json request{{"command", "fleet"}};
  if (opts.wait_ms > 0)
    request["wait_ms"] = opts.wait_ms;
  // The daemon answers after the window; its own coordinators may take a few seconds more.
  auto answer = ask_daemon(opts, request, static_cast<int>(opts.wait_ms) + 20000);
  if (!answer) {
    fmt::print(stderr, "fwrescue fleet: {}\n", describe(answer.error()));
    return exit_error;
  }
  const auto& fleet = (*answer)["fleet"];
  for (const auto& line : fleet_drops(fleet))
    fmt::print(stderr, "{}\n", line);
  if (opts.json)
    fmt::print("{}\n", fleet.dump());
  else
    for (const auto& line : fleet_table(fleet))
      fmt::print("{}\n", line);
  return exit_ok;
}

void add_reload(CLI::App& app, admin_options& opts) {
  auto* cmd = app.add_subcommand("reload", "Ask a running daemon to re-read its configuration");
  add_admin_options(cmd, opts);
}

int run_reload(const admin_options& opts) {
  auto answer = ask_daemon(opts, "reload");
  if (!answer) {
    fmt::print(stderr, "fwrescue reload: {}\n", describe(answer.error()));
    return exit_error;
  }
  fmt::print("{}\n", text(*answer, "message"));
  return exit_ok;
}

} // namespace fwrescue::cli
