#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontends/redfish/task_book.hpp"

// The Redfish resources fwrescued serves, built as DMTF's schemas describe them (ServiceRoot,
// UpdateService, SoftwareInventory, TaskService, Task and their collections); docs/redfish.md
// lists them. Pure functions of what the node reports, so tests check their shapes directly.

namespace fwrescue::redfish {

namespace uris {
inline constexpr const char* root = "/redfish/v1";
inline constexpr const char* update_service = "/redfish/v1/UpdateService";
inline constexpr const char* inventory = "/redfish/v1/UpdateService/FirmwareInventory";
inline constexpr const char* simple_update =
  "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate";
inline constexpr const char* task_service = "/redfish/v1/TaskService";
inline constexpr const char* tasks = "/redfish/v1/TaskService/Tasks";
inline constexpr const char* task_monitors = "/redfish/v1/TaskService/TaskMonitors";
} // namespace uris

/// GET /redfish: the protocol versions served.
nlohmann::ordered_json versions();

/// GET /redfish/v1. `node` names the node (its id).
nlohmann::ordered_json service_root(const std::string& node);

nlohmann::ordered_json update_service();

/// The collection of every firmware target's inventory member.
nlohmann::ordered_json inventory_collection(const std::vector<std::string>& targets);

/// One target's SoftwareInventory from its status JSON (docs/status.md): Version, Status, and
/// fwrescue's svn, root and component under Oem.Fwrescue.
nlohmann::ordered_json inventory_member(const std::string& target,
                                        const nlohmann::ordered_json& status);

nlohmann::ordered_json task_service();

nlohmann::ordered_json task_collection(const task_book& book);

nlohmann::ordered_json task(const task_entry& t);

/// The URI of task `id`'s monitor (what SimpleUpdate answers in Location).
std::string task_monitor_uri(uint64_t id);

/// Seconds since the Unix epoch as DMTF's Edm.DateTimeOffset ("2026-12-07T14:45:30Z").
std::string date_time(int64_t seconds);

} // namespace fwrescue::redfish
