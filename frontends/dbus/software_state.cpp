#include "frontends/dbus/software_state.hpp"

#include <algorithm>
#include <array>

namespace fwrescue::dbus {

namespace {

constexpr const char* activations_prefix = "xyz.openbmc_project.Software.Activation.Activations.";
constexpr const char* requested_prefix =
  "xyz.openbmc_project.Software.Activation.RequestedActivations.";
constexpr const char* purpose_prefix = "xyz.openbmc_project.Software.Version.VersionPurpose.";

/// status[a][b] when it is of the wanted kind; the status is ours, but a field that is missing
/// or of another type must read as "not known", never throw.
const nlohmann::ordered_json* field(const nlohmann::ordered_json& j, std::string_view a) {
  if (!j.is_object())
    return nullptr;
  auto it = j.find(a);
  return it == j.end() ? nullptr : &*it;
}

bool flag(const nlohmann::ordered_json& j, std::string_view a, std::string_view b) {
  auto* outer = field(j, a);
  auto* inner = outer ? field(*outer, b) : nullptr;
  return inner && inner->is_boolean() && inner->get<bool>();
}

std::string text(const nlohmann::ordered_json& j, std::string_view a) {
  auto* f = field(j, a);
  return f && f->is_string() ? f->get<std::string>() : std::string{};
}

/// The coordinator's phases between starting a recovery and ending it (recovering() in
/// actors/coordinator.hpp).
bool recovering(std::string_view state) {
  constexpr std::array<std::string_view, 6> phases{"discovering", "negotiating", "transferring",
                                                   "staged",      "flashing",    "verifying"};
  return std::find(phases.begin(), phases.end(), state) != phases.end();
}

uint8_t percent(const nlohmann::ordered_json& status) {
  auto* progress = field(status, "progress");
  auto* p = progress ? field(*progress, "percent") : nullptr;
  if (!p || !p->is_number_integer())
    return 0;
  if (p->is_number_unsigned())
    return static_cast<uint8_t>(std::min<uint64_t>(p->get<uint64_t>(), 100));
  return static_cast<uint8_t>(std::clamp<int64_t>(p->get<int64_t>(), 0, 100));
}

} // namespace

software_view view_of(const nlohmann::ordered_json& status) {
  software_view v;
  if (auto* installed = field(status, "installed"))
    v.version = text(*installed, "version");
  auto state = text(status, "state");
  auto* check = field(status, "last_check");
  bool checked = flag(status, "last_check", "checked");
  bool fault = check && field(*check, "fault") && !field(*check, "fault")->is_null();
  // The order matters: a running recovery says more than the check that started it, and a
  // check that passed after a failed recovery says more than the failure.
  if (recovering(state)) {
    v.state = activation::activating;
    v.progress = percent(status);
  } else if (checked && flag(status, "last_check", "ok")) {
    v.state = activation::active;
    v.progress = 100;
  } else if (state == "failed") {
    v.state = activation::failed;
  } else if (checked || fault) {
    // Bad blocks and no recovery running (auto_recover off), or a chip that cannot be read or
    // an image that cannot fit it: the flash does not hold the version.
    v.state = activation::invalid;
  } else {
    // No check yet, or no installed manifest to check against.
    v.state = activation::not_ready;
  }
  return v;
}

software_view unknown_view() {
  return {};
}

std::string to_dbus(activation a) {
  constexpr std::array<const char*, 5> names{"NotReady", "Invalid", "Activating", "Active",
                                             "Failed"};
  return std::string{activations_prefix} + names.at(static_cast<size_t>(a));
}

std::string to_dbus(requested_activation r) {
  return std::string{requested_prefix} + (r == requested_activation::active ? "Active" : "None");
}

std::optional<requested_activation> parse_requested(std::string_view text) {
  if (text == to_dbus(requested_activation::none))
    return requested_activation::none;
  if (text == to_dbus(requested_activation::active))
    return requested_activation::active;
  return std::nullopt;
}

std::string purpose_of(std::string_view component) {
  // Version.Purpose is deprecated and its list closed (the YAML says so): the few components
  // it names are mapped, everything else is Other.
  std::string_view purpose = "Other";
  if (component == "bios" || component == "uefi" || component == "host")
    purpose = "Host";
  else if (component == "bmc")
    purpose = "BMC";
  else if (component == "psu")
    purpose = "PSU";
  return std::string{purpose_prefix} + std::string{purpose};
}

std::string object_path_of(std::string_view name) {
  std::string path = std::string{software_root} + "/";
  if (name.empty())
    return path + "_";
  constexpr const char* hex = "0123456789abcdef";
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    auto u = static_cast<unsigned char>(c);
    // sd-bus escapes a leading digit too, so the element also reads as an identifier.
    bool plain =
      (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (i > 0 && u >= '0' && u <= '9');
    if (plain) {
      path += c;
    } else {
      path += '_';
      path += hex[u >> 4];
      path += hex[u & 0xf];
    }
  }
  return path;
}

} // namespace fwrescue::dbus
