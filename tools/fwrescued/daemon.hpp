#pragma once

// The daemon's body, apart from main(): main() builds the registries of pluggable parts and hands
// them here. A test binary (tests/faults/) runs the same daemon with a test backend added to them.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "config/node_config.hpp"
#include "hal/flash.hpp"
#include "hal/host_power.hpp"
#include "sources/image_location.hpp"
#include "transports/transport.hpp"

namespace fwrescue {

class logger;

/// Builds a flash backend from the configuration; `log` is the daemon's, for a backend whose
/// library has messages of its own (flashrom).
using flash_factory = std::function<caf::expected<std::shared_ptr<flash>>(
  const node_config&, const std::shared_ptr<logger>& log)>;
using power_factory = std::function<caf::expected<std::shared_ptr<host_power>>(
  const node_config&, const std::shared_ptr<logger>& log)>;

/// Builds one link from its section ([lan], [icmb], [ble]).
using transport_factory = std::function<caf::expected<std::shared_ptr<transport>>(
  const node_config&, const std::shared_ptr<logger>& log)>;

/// Builds the image location of one source of recovery.sources from its table.
using location_factory = std::function<caf::expected<std::shared_ptr<image_location>>(
  const node_config&, const std::shared_ptr<logger>& log)>;

/// The registries the configuration picks backends from by name (flash.backend,
/// host_power.backend, and each enabled link section). The parser checks only that a name is
/// given; a name missing here stops the daemon at start with the list of the known ones.
struct backends {
  std::map<std::string, flash_factory> flash;
  std::map<std::string, power_factory> host_power;
  std::map<std::string, transport_factory> transports;
  /// The sources of recovery.sources besides "peers", which is the protocol itself.
  std::map<std::string, location_factory> locations;
};

/// The production backends: flash "file" (hal/flash/file) and "flashrom" (hal/flash/flashrom),
/// host power "sim" (hal/host_power/sim) and "qemu" (hal/host_power/qemu), links "lan"
/// (transports/lan), "icmb" (transports/icmb) and "ble" (transports/ble), image locations
/// "local" and "removable" (sources/dir_location) and "http" (sources/http_location). Each name
/// is listed here once.
backends standard_backends();

/// The transports' share of [limits].
session_limits session_limits_of(const limits_config& l);

/// Runs the daemon from the configuration at `config_path` until SIGTERM or SIGINT (SIGHUP
/// reloads). Returns the process's exit code: 0 after a shutdown, 2 when the configuration or
/// the setup it names is unusable (one line on stderr says why).
int run_daemon(const std::string& config_path, const backends& registry);

/// The whole program: initialises libsodium, parses the command line (--config) and runs the
/// daemon with `registry`. main() is this call.
int daemon_main(int argc, char** argv, const backends& registry);

} // namespace fwrescue
