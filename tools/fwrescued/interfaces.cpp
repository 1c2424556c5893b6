#include "tools/fwrescued/interfaces.hpp"

#include "common/error.hpp"
#include "frontends/admin_server.hpp"
#include "frontends/dbus/dbus_server.hpp"
#include "frontends/redfish/server.hpp"
#include "metrics/exposition.hpp"
#include "tools/fwrescued/metrics_setup.hpp"

namespace fwrescue {

operator_interfaces::operator_interfaces(const node_query& node, std::vector<context_ptr> targets,
                                         std::function<std::string()> reload)
  : node_(node), targets_(std::move(targets)), reload_(std::move(reload)) {
}

operator_interfaces::~operator_interfaces() {
  stop();
}

void operator_interfaces::start() {
  const auto& ctx = *targets_.front();
  auto& log = *ctx.log;
  admin_ = std::make_unique<admin_server>(node_, ctx.log, reload_);
  if (auto err = admin_->start(ctx.config.admin_socket()))
    log.error("main", "{}", describe(err));
  else
    log.info("main", "admin socket {}", ctx.config.admin_socket());
  metrics_ = start_metrics_listener(ctx);
  if (const auto& d = ctx.config.dbus; d.enabled) {
    std::vector<std::string> components;
    for (const auto& t : targets_)
      components.push_back(t->config.flash.component);
    bus_ = std::make_unique<dbus::dbus_server>(node_, components, ctx.log);
    if (auto err = bus_->start(d)) {
      log.error("main", "{}; running without D-Bus objects", describe(err));
      bus_.reset();
    } else {
      log.info("main", "D-Bus objects under /xyz/openbmc_project/software as {} on {}", d.name,
               d.bus);
    }
  }
  if (const auto& rc = ctx.config.redfish; rc.enabled) {
    // The Prometheus text is served on the Redfish listener too, behind its authentication, for
    // a BMC that opens one port to its management network.
    redfish::extra_routes extra;
    extra["/metrics"] = [metrics = ctx.metrics] {
      return redfish::route_reply{render(metrics->registry),
                                  std::string{exposition_content_type}};
    };
    redfish_ = std::make_unique<redfish::server>(
      node_, ctx.log, redfish::server_options{rc, ctx.config.http, ctx.config.id, extra});
    if (auto err = redfish_->start()) {
      log.error("main", "{}; running without Redfish", describe(err));
      redfish_.reset();
    } else {
      log.info("main", "redfish on https://{} (and its /metrics)", rc.listen);
    }
  }
}

void operator_interfaces::stop() {
  if (bus_)
    bus_->stop();
  redfish_.reset();
  if (admin_)
    admin_->stop();
  if (metrics_)
    metrics_->stop();
}

} // namespace fwrescue
