#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace fwrescue::cli {

/// Options of the commands that talk to a running daemon.
struct admin_options {
  /// The daemon's admin socket; or found through the daemon's configuration file.
  std::string socket;
  std::string config;
  bool json = false;
  /// status: keep showing progress (status_watch.hpp), every interval_s seconds.
  bool watch = false;
  double interval_s = 1.0;
  /// status --watch: return once no target is recovering.
  bool until_done = false;
  /// recover: the firmware target to recover; empty: the node's first.
  std::string target;
  /// fleet: milliseconds to collect answers; 0: the daemon's discovery window.
  uint32_t wait_ms = 0;
};

void add_status(CLI::App& app, admin_options& opts);
void add_recover(CLI::App& app, admin_options& opts);

/// `status`: the daemon's state, installed image, last recovery, progress, last negotiation.
int run_status(const admin_options& opts);
/// `recover`: asks the daemon to start a recovery now.
int run_recover(const admin_options& opts);

void add_fleet(CLI::App& app, admin_options& opts);
/// `fleet`: every node the daemon reaches, with each target's image, state and last recovery.
int run_fleet(const admin_options& opts);

void add_reload(CLI::App& app, admin_options& opts);
/// `reload`: asks the daemon to re-read its configuration (as SIGHUP does).
int run_reload(const admin_options& opts);

} // namespace fwrescue::cli
