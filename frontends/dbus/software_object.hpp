#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <caf/expected.hpp>
#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IObject.h>

#include "common/log.hpp"
#include "frontends/dbus/software_state.hpp"

namespace fwrescue::dbus {

/// One firmware target on the bus: the object /xyz/openbmc_project/software/<target> with the
/// interfaces Software.Version, Software.Activation and Software.ActivationProgress as
/// phosphor-dbus-interfaces define them. Its properties show the last view it was given; a
/// client that sets RequestedActivation to "...RequestedActivations.Active" asks for a recovery.
/// Used on the connection's event loop thread only, like the connection itself.
class software_object {
public:
  /// Asks the target's coordinator for a recovery; the answer as node_query::recover gives it.
  using recover_fn = std::function<caf::expected<std::string>()>;

  software_object(sdbus::IConnection& connection, std::string target, std::string component,
                  recover_fn recover, std::shared_ptr<logger> log);

  /// Shows `view` and emits PropertiesChanged for each value that differs from the one shown.
  void show(const software_view& view);

  const std::string& path() const {
    return object_->getObjectPath();
  }

  /// True once after a client's request started a recovery: the caller refreshes at once, so
  /// the client sees Activating without waiting for the next refresh.
  bool take_started() {
    return std::exchange(started_, false);
  }

private:
  void register_interfaces();
  /// The setter of RequestedActivation; throws sdbus::Error, which sdbus-c++ turns into the
  /// D-Bus error reply, when the value or the request is refused.
  void request(const std::string& value);
  void set_requested(requested_activation r);

  std::string target_;
  std::string purpose_;
  recover_fn recover_;
  std::shared_ptr<logger> log_;
  software_view shown_;
  requested_activation requested_ = requested_activation::none;
  bool started_ = false;
  std::unique_ptr<sdbus::IObject> object_;
};

} // namespace fwrescue::dbus
