// The recovery daemon's body (fwrescued). Reads its configuration (again on SIGHUP or `fwrescue
// reload`), builds the node's parts, picking backends by name from the registries main() hands
// in, starts the transports and the supervised actors, serves the admin socket, and runs until
// SIGTERM or SIGINT.
//
// All wiring happens here; nothing below reaches for a device, a socket or a file by itself.

#include "tools/fwrescued/daemon.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <fmt/format.h>

#include "actors/boot_watch.hpp"
#include "actors/coordinator.hpp"
#include "actors/discovery.hpp"
#include "actors/donor.hpp"
#include "actors/fetch.hpp"
#include "actors/flasher.hpp"
#include "actors/fleet.hpp"
#include "actors/media_watcher.hpp"
#include "actors/monitor.hpp"
#include "actors/negotiation.hpp"
#include "actors/router.hpp"
#include "actors/supervisor.hpp"
#include "actors/transfer.hpp"
#include "common/error.hpp"
#include "frontends/node_query.hpp"
#include "image/blake2b_lanes.hpp"
#include "image/hash.hpp"
#include "tools/fwrescued/interfaces.hpp"
#include "tools/fwrescued/metrics_setup.hpp"
#include "tools/fwrescued/reload.hpp"
#include "tools/fwrescued/service_notify.hpp"
#include "tools/fwrescued/targets.hpp"
#include "tools/fwrescued/trust.hpp"
#include "transports/link_set.hpp"

namespace fwrescue {

session_limits session_limits_of(const limits_config& l) {
  session_limits out;
  out.max_inbound = l.sessions;
  out.max_inbound_per_source = l.sessions_per_source;
  out.handshake = std::chrono::milliseconds(l.handshake_ms);
  out.idle = std::chrono::milliseconds(l.idle_ms);
  out.max_queued = size_t{l.queued_kib} << 10;
  out.max_unconsumed = size_t{l.inbound_kib} << 10;
  out.descriptor_reserve = l.descriptor_reserve;
  return out;
}

namespace {

/// Builds everything the actors depend on; the error says what is wrong with the setup.
caf::expected<std::shared_ptr<node_context>> build_context(node_config config,
                                                           const backends& registry) {
  auto ctx = std::make_shared<node_context>();
  log_level level = log_level::info;
  parse_log_level(config.log_level, level);
  // journald sets JOURNAL_STREAM for services whose output it reads; it then understands the
  // syslog priority prefix.
  ctx->log = std::make_shared<logger>(config.id, level, std::getenv("JOURNAL_STREAM") != nullptr);
  ctx->policies = make_policy_registry(config.policy.scored);
  if (!ctx->policies.count(config.recovery.policy))
    return make_error(errc::invalid_argument,
                      fmt::format("{}: recovery.policy '{}' is unknown (known: {})", config.source,
                                  config.recovery.policy, known_policies(ctx->policies)));
  auto key = load_secret_key(config.key);
  // A fresh install has no key yet: the line says how to make one.
  if (!key && !std::filesystem::exists(config.key))
    return make_error(errc::invalid_argument,
                      fmt::format("node key: {} (make one with `fwrescue keygen --secret-key {} "
                                  "--public-key PUBLIC-KEY-FILE`)",
                                  describe(key.error()), config.key));
  if (!key)
    return make_error(errc::invalid_argument, "node key: " + describe(key.error()));
  ctx->node_key = std::make_shared<const secret_key>(std::move(*key));
  if (auto err = load_trust(config, *ctx))
    return err;
  ctx->store = std::make_shared<nv_store>(config.state_dir);
  if (auto err = ctx->store->open())
    return err;
  if (auto err =
        install_configured_revocations(config, *ctx->store, ctx->revocation_keys, *ctx->log))
    return err;
  // Both names are checked before either backend is built, so an unknown one is reported
  // without touching the hardware.
  if (auto known = pick(registry.flash, config.flash.backend, config, "flash.backend"); !known)
    return std::move(known.error());
  auto make_power =
    pick(registry.host_power, config.host_power.backend, config, "host_power.backend");
  if (!make_power)
    return std::move(make_power.error());
  auto chip = open_target_flash(config, config.flash, registry, ctx->log, ctx->layout);
  if (!chip)
    return std::move(chip.error());
  ctx->chip = std::move(*chip);
  auto power = (*make_power)(config, ctx->log);
  if (!power)
    return std::move(power.error());
  ctx->power_report = std::make_shared<reporting_host_power>(*power);
  ctx->power = ctx->power_report;
  auto names = enabled_links(config);
  if (names.empty())
    return make_error(errc::invalid_argument,
                      fmt::format("{}: no link is enabled: enable at least one of [lan], [icmb] "
                                  "and [ble]",
                                  config.source));
  std::vector<std::shared_ptr<transport>> links;
  for (const auto& name : names) {
    auto make = registry.transports.find(name);
    if (make == registry.transports.end())
      return make_error(errc::invalid_argument,
                        fmt::format("{}: [{}] is enabled, but this build has no {} link "
                                    "(known: {})",
                                    config.source, name, name, known_names(registry.transports)));
    auto link = make->second(config, ctx->log);
    if (!link)
      return std::move(link.error());
    links.push_back(std::move(*link));
  }
  auto locations = open_locations(config, registry, ctx->log);
  if (!locations)
    return std::move(locations.error());
  ctx->locations = std::move(*locations);
  auto log = ctx->log;
  ctx->link = std::make_shared<link_set>(
    std::move(links), [log](std::string_view line) { log->warn("links", "{}", line); });
  ctx->config = std::move(config);
  return ctx;
}


std::vector<child_spec> children(const holders& targets) {
  // Monitor and flasher block on flash I/O for long stretches, the boot watcher on host power
  // operations, the fetch on files and the network: they get their own threads.
  auto make = [](std::shared_ptr<context_holder> current, auto behavior, bool detached) {
    return [current, behavior, detached](caf::actor_system& s) {
      return detached ? s.spawn<caf::detached>(behavior, current->get())
                      : s.spawn(behavior, current->get());
    };
  };
  // The supervisor spawns and registers them all, then sends each a start message: only then
  // does the coordinator resume a journal (it sends to the flasher, monitor and donor) and the
  // monitor run its first check (it reports to the coordinator), so the order here does not
  // matter for correctness. The router, the donor, the media watcher and the fleet view serve
  // every target;
  // each target has its own actor in every other role.
  const auto& first = targets.front();
  std::vector<child_spec> out{
    {roles::router, make(first, router, false)},
    {roles::donor, make(first, donor, false)},
    {roles::media_watcher, make(first, media_watcher, false)},
    {roles::fleet, make(first, fleet, false)},
  };
  for (uint32_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    out.push_back({role_of(roles::discovery, i), make(t, discovery, false)});
    out.push_back({role_of(roles::negotiation, i), make(t, negotiation, false)});
    out.push_back({role_of(roles::transfer, i), make(t, transfer, false)});
    out.push_back({role_of(roles::flasher, i), make(t, flasher, true)});
    out.push_back({role_of(roles::monitor, i), make(t, monitor, true)});
    out.push_back({role_of(roles::boot_watch, i), make(t, boot_watch, true)});
    out.push_back({role_of(roles::coordinator, i), make(t, coordinator, false)});
    out.push_back({role_of(roles::fetch, i), make(t, fetch, true)});
  }
  return out;
}

/// Ends the supervisor and every role. The registry holds strong references: they are dropped
/// too, or the actor system would wait forever for the detached actors' threads when it is
/// destroyed.
void stop_actors(caf::actor_system& sys, const caf::actor& supervisor, size_t targets) {
  caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
  for (auto role : every_role(targets)) {
    if (auto a = find_role(sys, role))
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sys.registry().erase(role);
  }
}

} // namespace

int run_daemon(const std::string& config_path, const backends& registry) {
  auto config = load_config(config_path);
  if (!config) {
    fmt::print(stderr, "fwrescued: {}\n", describe(config.error()));
    return 2;
  }
  auto built = build_context(std::move(*config), registry);
  if (!built) {
    fmt::print(stderr, "fwrescued: {}\n", describe(built.error()));
    return 2;
  }
  auto targets = build_targets(*built, registry);
  if (!targets) {
    fmt::print(stderr, "fwrescued: {}\n", describe(targets.error()));
    return 2;
  }
  instrument_targets(*targets);
  context_ptr ctx = targets->front();
  auto& log = *ctx->log;

  // Block the signals we wait for before any thread starts, so every thread inherits the mask
  // and sigwait() below is the only place they are taken.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  // One shared job queue whose idle workers sleep: the default work-stealing workers poll
  // when idle and take CPU from the I/O and flasher threads on a BMC's one or two cores
  // (docs/performance.md has the comparison).
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  holders current;
  for (const auto& t : *targets)
    current.push_back(std::make_shared<context_holder>(t));
  // The supervisor starts every role, the router included, before the transport delivers
  // anything: the bridge finds the router by role for every event.
  auto sup = sys.spawn(supervisor, children(current), ctx->config.supervisor.max_restarts,
                       std::chrono::seconds(ctx->config.supervisor.restart_window_s), ctx->log);
  transport_bridge bridge{sys, ctx->link};
  if (auto err = ctx->link->start(bridge)) {
    log.error("main", "{}", describe(err));
    stop_actors(sys, sup, current.size());
    return 2;
  }
  std::vector<std::string> up;
  if (auto set = std::dynamic_pointer_cast<link_set>(ctx->link))
    for (const auto& l : set->links())
      if (l.up)
        up.push_back(l.address);
  log.info("main",
           "{} node for {}:{} {} up; sessions at {}; policy {}; hashing {} blocks at once",
           to_string(ctx->config.role), ctx->config.platform.vendor, ctx->config.platform.board,
           fmt::join(ctx->target_names, ", "), fmt::join(up, ", "), ctx->config.recovery.policy,
           blake2b_lanes());
  systemd_notify_sink notify;
  auto reload_now = [&]() -> std::string {
    notify_reloading(notify);
    auto result = reload(sys, current, config_path);
    if (!result) {
      log.error("main", "reload refused, the previous configuration stays: {}",
                describe(result.error()));
      notify_ready(notify, "reload refused, the previous configuration stays");
      return "refused: " + describe(result.error());
    }
    log.info("main", "{}", *result);
    notify_ready(notify, *result);
    return *result;
  };
  node_query node{sys, ctx->target_names};
  // The supervisor spawns and registers the roles when it first runs, which need not have
  // happened yet: an answer from it and from every coordinator means the interfaces' first
  // reading finds them, rather than showing D-Bus and Redfish clients an empty node.
  if (auto err = actor_probe(sys, sup, ctx->target_names, std::chrono::seconds(10))())
    log.warn("main", "the actors are not all up yet: {}", describe(err));
  operator_interfaces interfaces{node, {targets->begin(), targets->end()}, reload_now};
  interfaces.start();
  notify_ready(notify, fmt::format("{} node {}: {} up", to_string(ctx->config.role), ctx->config.id,
                                   fmt::join(ctx->target_names, ", ")));
  auto keeper = keep_watchdog(notify, sys, sup, ctx->target_names, ctx->log);

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP)
      break;
    log.info("main", "SIGHUP: reloading {}", config_path);
    reload_now();
  }
  log.info("main", "{}: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  keeper.reset();
  notify_stopping(notify);
  interfaces.stop();
  ctx->link->stop();
  stop_actors(sys, sup, current.size());
  return 0;
}

int daemon_main(int argc, char** argv, const backends& registry) {
  if (!init_crypto()) {
    fmt::print(stderr, "fwrescued: cannot initialise libsodium\n");
    return 2;
  }
  CLI::App app{"fwrescued: recovers this host's BIOS flash from signed images held by peers"};
  std::string config_path;
  app.add_option("--config", config_path, "Configuration file (TOML)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "fwrescued: {} (see fwrescued --help)\n", e.what());
    return 2;
  }
  return run_daemon(config_path, registry);
}

} // namespace fwrescue
