#include "frontends/redfish/resources.hpp"

#include <ctime>

#include <fmt/format.h>

namespace fwrescue::redfish {

namespace {

using json = nlohmann::ordered_json;

json link(const std::string& uri) {
  return {{"@odata.id", uri}};
}

json enabled_ok() {
  return {{"State", "Enabled"}, {"Health", "OK"}};
}

std::string task_uri(uint64_t id) {
  return fmt::format("{}/{}", uris::tasks, id);
}

const json* field(const json& j, const char* key) {
  if (!j.is_object())
    return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

} // namespace

std::string date_time(int64_t seconds) {
  std::time_t t = seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string task_monitor_uri(uint64_t id) {
  return fmt::format("{}/{}", uris::task_monitors, id);
}

json versions() {
  return {{"v1", "/redfish/v1/"}};
}

json service_root(const std::string& node) {
  return {{"@odata.id", uris::root},
          {"@odata.type", "#ServiceRoot.v1_11_0.ServiceRoot"},
          {"Id", "RootService"},
          {"Name", fmt::format("fwrescue Redfish service of {}", node)},
          {"RedfishVersion", "1.15.0"},
          {"UpdateService", link(uris::update_service)},
          {"TaskService", link(uris::task_service)},
          {"Links", json::object()}};
}

json update_service() {
  return {{"@odata.id", uris::update_service},
          {"@odata.type", "#UpdateService.v1_11_0.UpdateService"},
          {"Id", "UpdateService"},
          {"Name", "Update Service"},
          {"ServiceEnabled", true},
          {"Status", enabled_ok()},
          {"FirmwareInventory", link(uris::inventory)},
          {"Actions",
           {{"#UpdateService.SimpleUpdate",
             {{"target", uris::simple_update},
              {"TransferProtocol@Redfish.AllowableValues", {"HTTP", "HTTPS"}}}}}}};
}

json inventory_collection(const std::vector<std::string>& targets) {
  auto members = json::array();
  for (const auto& t : targets)
    members.push_back(link(fmt::format("{}/{}", uris::inventory, t)));
  return {{"@odata.id", uris::inventory},
          {"@odata.type", "#SoftwareInventoryCollection.SoftwareInventoryCollection"},
          {"Name", "Firmware Inventory"},
          {"Members@odata.count", members.size()},
          {"Members", std::move(members)}};
}

json inventory_member(const std::string& target, const json& status) {
  json fw{{"Component", status.value("component", "")}};
  json version = nullptr;
  if (const auto* installed = field(status, "installed"); installed && installed->is_object()) {
    version = installed->value("version", "");
    fw["Svn"] = installed->value("svn", 0u);
    fw["Root"] = installed->value("root", "");
  } else {
    fw["Svn"] = nullptr;
    fw["Root"] = nullptr;
  }
  auto phase = status.value("state", "idle");
  fw["State"] = phase;
  bool updating = phase != "idle" && phase != "done" && phase != "failed";
  std::string health = "OK";
  if (const auto* check = field(status, "last_check"); check && check->is_object()) {
    if (check->value("checked", false) && !check->value("ok", false))
      health = "Critical";
  }
  if (status.value("safe_hold", false) || phase == "failed")
    health = "Critical";
  return {{"@odata.id", fmt::format("{}/{}", uris::inventory, target)},
          {"@odata.type", "#SoftwareInventory.v1_10_0.SoftwareInventory"},
          {"Id", target},
          {"Name", fmt::format("{} firmware", target)},
          {"Version", version},
          {"SoftwareId", status.value("component", "")},
          {"Updateable", true},
          {"Status", {{"State", updating ? "Updating" : "Enabled"}, {"Health", health}}},
          {"Oem", {{"Fwrescue", std::move(fw)}}}};
}

json task_service() {
  return {{"@odata.id", uris::task_service},
          {"@odata.type", "#TaskService.v1_2_0.TaskService"},
          {"Id", "TaskService"},
          {"Name", "Task Service"},
          {"ServiceEnabled", true},
          {"CompletedTaskOverWritePolicy", "Oldest"},
          {"LifeCycleEventOnTaskStateChange", false},
          {"Status", enabled_ok()},
          {"Tasks", link(uris::tasks)}};
}

json task_collection(const task_book& book) {
  auto members = json::array();
  for (const auto& t : book.tasks())
    members.push_back(link(task_uri(t.id)));
  return {{"@odata.id", uris::tasks},
          {"@odata.type", "#TaskCollection.TaskCollection"},
          {"Name", "Tasks"},
          {"Members@odata.count", members.size()},
          {"Members", std::move(members)}};
}

json task(const task_entry& t) {
  auto messages = json::array();
  for (const auto& m : t.messages)
    messages.push_back({{"@odata.type", "#Message.v1_1_1.Message"},
                        {"MessageId", m.id},
                        {"Message", m.text},
                        {"MessageArgs", m.args},
                        {"MessageSeverity", m.severity}});
  json j{{"@odata.id", task_uri(t.id)},
         {"@odata.type", "#Task.v1_7_0.Task"},
         {"Id", std::to_string(t.id)},
         {"Name", fmt::format("Recovery {} of {}", t.number, t.target_name)},
         {"TaskState", t.state},
         {"TaskStatus", t.status},
         {"PercentComplete", t.percent},
         {"StartTime", date_time(t.start_time)},
         {"TaskMonitor", task_monitor_uri(t.id)},
         {"Messages", std::move(messages)}};
  if (t.end_time != 0)
    j["EndTime"] = date_time(t.end_time);
  j["Oem"] = {
    {"Fwrescue", {{"Target", t.target_name}, {"Recovery", t.number}, {"Reason", t.reason}}}};
  return j;
}

} // namespace fwrescue::redfish
