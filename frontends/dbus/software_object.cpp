#include "frontends/dbus/software_object.hpp"

#include <fmt/format.h>
#include <sdbus-c++/Error.h>
#include <sdbus-c++/Message.h>

#include "common/error.hpp"

namespace fwrescue::dbus {

namespace {

/// A client's string as it goes back in an error message: cut short, control bytes as \xNN.
std::string shown_value(std::string_view s) {
  constexpr size_t max_shown = 80;
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    out += c < 0x20 || c == 0x7f ? fmt::format("\\x{:02x}", c) : std::string(1, s[i]);
  }
  return s.size() > max_shown ? out + "..." : out;
}

} // namespace

software_object::software_object(sdbus::IConnection& connection, std::string target,
                                 std::string component, recover_fn recover,
                                 std::shared_ptr<logger> log)
  : target_(std::move(target)), purpose_(purpose_of(component)), recover_(std::move(recover)),
    log_(std::move(log)), shown_(unknown_view()),
    object_(sdbus::createObject(connection, object_path_of(target_))) {
  register_interfaces();
}

void software_object::register_interfaces() {
  auto& o = *object_;
  o.registerProperty("Version").onInterface(version_interface).withGetter([this] {
    return shown_.version;
  });
  // Fixed by the component; a client has no reason to watch it.
  o.registerProperty("Purpose")
    .onInterface(version_interface)
    .withGetter([this] { return purpose_; })
    .withUpdateBehavior(sdbus::Flags::CONST_PROPERTY_VALUE);
  o.registerProperty("Activation").onInterface(activation_interface).withGetter([this] {
    return to_dbus(shown_.state);
  });
  // Privileged: besides the bus policy, sd-bus asks the bus for the caller's credentials and
  // refuses a write from one without CAP_SYS_ADMIN (the bus policy is the first gate).
  o.registerProperty("RequestedActivation")
    .onInterface(activation_interface)
    .withGetter([this] { return to_dbus(requested_); })
    .withSetter([this](const std::string& value) { request(value); })
    .markAsPrivileged();
  o.registerProperty("Progress").onInterface(progress_interface).withGetter([this] {
    return shown_.progress;
  });
  o.finishRegistration();
}

void software_object::request(const std::string& value) {
  auto wanted = parse_requested(value);
  if (!wanted)
    throw sdbus::Error(invalid_enum_error,
                       fmt::format("'{}' is not a RequestedActivations value (expected {} or {})",
                                   shown_value(value), to_dbus(requested_activation::none),
                                   to_dbus(requested_activation::active)));
  if (*wanted == requested_activation::none) {
    // "No action has been directed": nothing to start, and nothing to stop either.
    set_requested(*wanted);
    return;
  }
  auto answer = recover_();
  if (!answer)
    throw sdbus::Error(unavailable_error, describe(answer.error()));
  if (answer->rfind("refused", 0) == 0)
    throw sdbus::Error(not_allowed_error, *answer);
  // Who asked, as the admin socket's log says "operator": the caller's unique bus name.
  auto* call = object_->getCurrentlyProcessedMessage();
  log_->info("dbus", "RequestedActivation of {} set to Active by {} -> {}", target_,
             call ? call->getSender() : std::string{"?"}, *answer);
  // A recovery already running satisfies the request as well as a new one.
  started_ = true;
  set_requested(*wanted);
}

void software_object::set_requested(requested_activation r) {
  if (requested_ == r)
    return;
  requested_ = r;
  object_->emitPropertiesChangedSignal(activation_interface, {"RequestedActivation"});
}

void software_object::show(const software_view& view) {
  if (view.version != shown_.version) {
    shown_.version = view.version;
    object_->emitPropertiesChangedSignal(version_interface, {"Version"});
  }
  if (view.state != shown_.state) {
    shown_.state = view.state;
    object_->emitPropertiesChangedSignal(activation_interface, {"Activation"});
  }
  if (view.progress != shown_.progress) {
    shown_.progress = view.progress;
    object_->emitPropertiesChangedSignal(progress_interface, {"Progress"});
  }
}

} // namespace fwrescue::dbus
