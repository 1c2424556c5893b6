#pragma once

// The daemon's operator interfaces, started once the actors run and stopped before them: the
// admin socket, the [metrics] listener, the D-Bus objects and the Redfish service. Each is a
// window on the recoveries, not a part of them: one that cannot start is logged and the node
// runs on without it, since the flash's safety does not depend on being watched.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/node_context.hpp"
#include "frontends/node_query.hpp"

namespace fwrescue {

class admin_server;
class metrics_listener;
namespace dbus {
class dbus_server;
}
namespace redfish {
class server;
}

class operator_interfaces {
public:
  /// `targets`: every target's context (the first is the node's); `reload` re-reads the
  /// configuration for the admin socket's `reload`.
  operator_interfaces(const node_query& node, std::vector<context_ptr> targets,
                      std::function<std::string()> reload);
  ~operator_interfaces();

  /// Starts every interface the configuration enables, logging each one's address or why it
  /// could not start.
  void start();

  /// Stops them all; safe to call twice.
  void stop();

private:
  const node_query& node_;
  std::vector<context_ptr> targets_;
  std::function<std::string()> reload_;
  std::unique_ptr<admin_server> admin_;
  std::unique_ptr<metrics_listener> metrics_;
  std::unique_ptr<dbus::dbus_server> bus_;
  std::unique_ptr<redfish::server> redfish_;
};

} // namespace fwrescue
