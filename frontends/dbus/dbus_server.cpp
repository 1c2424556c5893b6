#include "frontends/dbus/dbus_server.hpp"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sdbus-c++/Error.h>

#include "common/error.hpp"

namespace fwrescue::dbus {

namespace {

std::unique_ptr<sdbus::IConnection> connect(const std::string& bus) {
  if (bus == "system")
    return sdbus::createSystemBusConnection();
  if (bus == "session")
    return sdbus::createSessionBusConnection();
  // An address ("unix:path=..."): a bus daemon of its own, as the tests start.
  return sdbus::createSessionBusConnectionWithAddress(bus);
}

} // namespace

dbus_server::dbus_server(const node_query& node, std::vector<std::string> components,
                         std::shared_ptr<logger> log)
  : node_(node), components_(std::move(components)), log_(std::move(log)) {
}

dbus_server::~dbus_server() {
  stop();
}

caf::error dbus_server::publish(const dbus_config& config) {
  // sdbus-c++ reports failures with exceptions; they end here, as one error naming the step.
  std::string step = "cannot connect to the bus";
  try {
    connection_ = connect(config.bus);
    step = "cannot publish the objects";
    manager_ = sdbus::createObject(*connection_, software_root);
    manager_->addObjectManager();
    const auto& names = node_.targets();
    for (uint32_t i = 0; i < names.size(); ++i) {
      auto recover = [this, i] { return node_.recover(i); };
      objects_.push_back(std::make_unique<software_object>(*connection_, names[i],
                                                           components_.at(i), recover, log_));
    }
    // The objects exist, with their first values, before the name does: a client (OpenBMC's
    // object mapper) that reacts to the name appearing finds them all at once.
    refresh();
    step = fmt::format("cannot own the name {}", config.name);
    connection_->requestName(config.name);
  } catch (const sdbus::Error& e) {
    objects_.clear();
    manager_.reset();
    connection_.reset();
    return make_error(errc::io_failure, fmt::format("dbus: {} on bus '{}': {}: {}", step,
                                                    config.bus, e.getName(), e.getMessage()));
  }
  return caf::none;
}

caf::error dbus_server::start(const dbus_config& config) {
  period_ = std::chrono::milliseconds(config.refresh_ms);
  if (auto err = publish(config))
    return err;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread{[this] { run(); }};
  return caf::none;
}

void dbus_server::stop() {
  if (!thread_.joinable())
    return;
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
  thread_.join();
  ::close(wake_fd_);
  objects_.clear();
  manager_.reset();
  connection_.reset();
}

void dbus_server::refresh() {
  for (uint32_t i = 0; i < objects_.size(); ++i) {
    auto status = node_.status(i);
    objects_[i]->show(status ? view_of(*status) : unknown_view());
  }
}

void dbus_server::run() {
  using clock = std::chrono::steady_clock;
  auto next = clock::now() + period_;
  while (!stopping_) {
    try {
      // Handles the calls that arrived and sends what is queued, until nothing is left.
      while (connection_->processPendingRequest()) {
      }
      bool started = false;
      for (auto& o : objects_)
        started = o->take_started() || started;
      auto now = clock::now();
      if (started || now >= next) {
        refresh();
        next = now + period_;
        continue;
      }
      auto poll_data = connection_->getEventLoopPollData();
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
      int bus_wait = poll_data.getPollTimeout();
      int timeout = static_cast<int>(bus_wait < 0 ? wait : std::min<int64_t>(wait, bus_wait));
      pollfd fds[2] = {{poll_data.fd, poll_data.events, 0}, {wake_fd_, POLLIN, 0}};
      if (::poll(fds, 2, timeout) < 0 && errno != EINTR)
        break;
    } catch (const sdbus::Error& e) {
      // The bus went away (dbus-daemon restarted): the objects are gone with the connection.
      // Recovery does not depend on D-Bus, so the daemon carries on without it.
      log_->error("dbus", "the bus connection failed, D-Bus objects withdrawn: {}: {}", e.getName(),
                  e.getMessage());
      return;
    }
  }
}

} // namespace fwrescue::dbus
