#pragma once

// What a firmware target looks like on D-Bus, worked out from its status JSON: the values of the
// phosphor-dbus-interfaces properties xyz.openbmc_project.Software.{Version, Activation,
// ActivationProgress}. Pure functions, so the mapping is one table the unit tests walk through
// (docs/dbus.md has it in prose).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fwrescue::dbus {

constexpr const char* software_root = "/xyz/openbmc_project/software";
constexpr const char* version_interface = "xyz.openbmc_project.Software.Version";
constexpr const char* activation_interface = "xyz.openbmc_project.Software.Activation";
constexpr const char* progress_interface = "xyz.openbmc_project.Software.ActivationProgress";

/// Values of Activation.Activations that fwrescue reports (the interface has more: Ready,
/// Staged and Staging describe updates that wait for a reboot, which a recovery never does).
enum class activation : uint8_t { not_ready, invalid, activating, active, failed };

/// Values of Activation.RequestedActivations.
enum class requested_activation : uint8_t { none, active };

/// The values the bus shows for one target.
struct software_view {
  std::string version;
  activation state = activation::not_ready;
  /// Percent of the current step of a recovery (transfer, flash or verify), 0..100.
  uint8_t progress = 0;
  friend bool operator==(const software_view&, const software_view&) = default;
};

/// The view of a target whose coordinator reports `status` (actors/coordinator_status.cpp).
/// Tolerates missing or mistyped fields: each reads as its absence.
software_view view_of(const nlohmann::ordered_json& status);

/// The view while the coordinator does not answer: nothing known, nothing to activate.
software_view unknown_view();

/// "xyz.openbmc_project.Software.Activation.Activations.Active" and so on.
std::string to_dbus(activation a);
std::string to_dbus(requested_activation r);

/// The RequestedActivations value `text` names, if it names one (the full dotted name only,
/// as sdbusplus's generated servers accept).
std::optional<requested_activation> parse_requested(std::string_view text);

/// Version.Purpose for a firmware component: "...VersionPurpose.Host" for the host's firmware
/// (bios), BMC and PSU for theirs, Other for the rest (NICs, CPLDs, ...).
std::string purpose_of(std::string_view component);

/// The object path of the target called `name`: /xyz/openbmc_project/software/<name>, the name
/// escaped as sd_bus_path_encode does (bytes outside [A-Za-z0-9], and a leading digit, become
/// _xx), so any target name gives a valid path and different names different paths.
std::string object_path_of(std::string_view name);

/// The error sdbusplus's generated servers answer with when an enum property is set to a
/// string that names none of its values; OpenBMC clients know it.
constexpr const char* invalid_enum_error = "xyz.openbmc_project.sdbusplus.Error.InvalidEnumString";
/// phosphor-dbus-interfaces' Common errors, for a request the node refuses or cannot answer.
constexpr const char* not_allowed_error = "xyz.openbmc_project.Common.Error.NotAllowed";
constexpr const char* unavailable_error = "xyz.openbmc_project.Common.Error.Unavailable";

} // namespace fwrescue::dbus
