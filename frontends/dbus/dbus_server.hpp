#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/error.hpp>
#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IObject.h>

#include "common/log.hpp"
#include "config/node_config.hpp"
#include "frontends/dbus/software_object.hpp"
#include "frontends/node_query.hpp"

namespace fwrescue::dbus {

/// The node's firmware targets on D-Bus as OpenBMC's software managers publish theirs: an
/// ObjectManager at /xyz/openbmc_project/software and one software_object per target below it,
/// under a well-known name. One thread owns the connection: it answers calls, and every
/// dbus.refresh_ms it reads each target's status through node_query and shows what changed.
class dbus_server {
public:
  /// `components`: each target's firmware component ("bios", "nic"), by target index.
  dbus_server(const node_query& node, std::vector<std::string> components,
              std::shared_ptr<logger> log);
  ~dbus_server();

  /// Connects to the bus `config` names, publishes the objects, takes the name and starts the
  /// thread. The error says which step failed (bus unreachable, name taken, ...).
  caf::error start(const dbus_config& config);
  void stop();

private:
  caf::error publish(const dbus_config& config);
  void run();
  /// Reads every target's status and shows it.
  void refresh();

  const node_query& node_;
  std::vector<std::string> components_;
  std::shared_ptr<logger> log_;
  std::chrono::milliseconds period_{500};
  std::unique_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<sdbus::IObject> manager_;
  std::vector<std::unique_ptr<software_object>> objects_;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

} // namespace fwrescue::dbus
