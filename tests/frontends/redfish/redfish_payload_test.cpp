// What the Redfish service answers, without a server: error bodies as DMTF's specification
// shapes them, the resources' required properties, and SimpleUpdate's parameters.

#include <variant>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "frontends/redfish/errors.hpp"
#include "frontends/redfish/resources.hpp"
#include "frontends/redfish/simple_update.hpp"

using namespace fwrescue::redfish;
using json = nlohmann::ordered_json;

namespace {

void has_odata(const json& j, const std::string& id, const std::string& type_prefix) {
  INFO(j.dump());
  CHECK(j.at("@odata.id") == id);
  CHECK(j.at("@odata.type").get<std::string>().starts_with(type_prefix));
  CHECK(j.contains("Name"));
}

const std::vector<std::string> targets{"bios", "nic"};

error_reply refused(std::string_view body) {
  auto r = parse_simple_update(body, targets);
  REQUIRE(std::holds_alternative<error_reply>(r));
  return std::get<error_reply>(r);
}

std::string message_id(const error_reply& e) {
  return e.body.at("error").at("@Message.ExtendedInfo").at(0).at("MessageId");
}

} // namespace

TEST_CASE("an error body has code, message and one extended message from the Base registry",
          "[unit]") {
  auto e = malformed_json("the request body is not JSON");
  CHECK(e.status == 400);
  const auto& err = e.body.at("error");
  CHECK(err.at("code") == "Base.1.8.1.MalformedJSON");
  CHECK(err.at("message") == "the request body is not JSON");
  const auto& info = err.at("@Message.ExtendedInfo").at(0);
  CHECK(info.at("MessageId") == "Base.1.8.1.MalformedJSON");
  CHECK(info.at("Message").get<std::string>().starts_with("The request body submitted"));
  CHECK(info.at("Severity") == "Critical");
  CHECK(info.contains("Resolution"));
  auto f =
    action_parameter_value_format_error("\"x\"", "ImageURI", "UpdateService.SimpleUpdate", "why");
  CHECK(f.body["error"]["@Message.ExtendedInfo"][0]["Message"]
        == "The value \"x\" for the parameter ImageURI in the action UpdateService.SimpleUpdate "
           "is of a different format than the parameter can accept.");
  CHECK(f.body["error"]["@Message.ExtendedInfo"][0]["MessageArgs"].size() == 3);
  CHECK(unauthorized("x").status == 401);
  CHECK(resource_not_found("/redfish/v1/x").status == 404);
}

TEST_CASE("the resources carry @odata.id, @odata.type, Id and Name", "[unit]") {
  has_odata(service_root("bmc-a"), "/redfish/v1", "#ServiceRoot.v1_");
  CHECK(service_root("bmc-a")["UpdateService"]["@odata.id"] == "/redfish/v1/UpdateService");
  auto us = update_service();
  has_odata(us, "/redfish/v1/UpdateService", "#UpdateService.v1_");
  CHECK(us["Actions"]["#UpdateService.SimpleUpdate"]["target"]
        == "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate");
  auto inv = inventory_collection(targets);
  has_odata(inv, "/redfish/v1/UpdateService/FirmwareInventory", "#SoftwareInventoryCollection");
  CHECK(inv["Members@odata.count"] == 2);
  CHECK(inv["Members"][1]["@odata.id"] == "/redfish/v1/UpdateService/FirmwareInventory/nic");
  has_odata(task_service(), "/redfish/v1/TaskService", "#TaskService.v1_");
}

TEST_CASE("an inventory member shows the installed version, svn, root and health", "[unit]") {
  json status{{"component", "bios"},
              {"state", "idle"},
              {"safe_hold", false},
              {"installed", {{"version", "2022.11"}, {"svn", 3}, {"root", "ab12"}}},
              {"last_check", {{"checked", true}, {"ok", true}}}};
  auto m = inventory_member("bios", status);
  has_odata(m, "/redfish/v1/UpdateService/FirmwareInventory/bios", "#SoftwareInventory.v1_");
  CHECK(m["Id"] == "bios");
  CHECK(m["Version"] == "2022.11");
  CHECK(m["Updateable"] == true);
  CHECK(m["Status"]["State"] == "Enabled");
  CHECK(m["Status"]["Health"] == "OK");
  CHECK(m["Oem"]["Fwrescue"]["Svn"] == 3);
  CHECK(m["Oem"]["Fwrescue"]["Root"] == "ab12");
  status["state"] = "flashing";
  status["last_check"]["ok"] = false;
  m = inventory_member("bios", status);
  CHECK(m["Status"]["State"] == "Updating");
  CHECK(m["Status"]["Health"] == "Critical");
  status["installed"] = nullptr;
  CHECK(inventory_member("bios", status)["Version"].is_null());
}

TEST_CASE("a task resource follows the Task schema", "[unit]") {
  task_book book{4};
  auto id = book.bind(0, "bios", 7, "Redfish SimpleUpdate of https://x/y", 0);
  auto t = task(*book.find(id));
  has_odata(t, "/redfish/v1/TaskService/Tasks/1", "#Task.v1_");
  CHECK(t["Id"] == "1");
  CHECK(t["TaskState"] == "New");
  CHECK(t["PercentComplete"] == 0);
  CHECK(t["StartTime"] == "1970-01-01T00:00:00Z");
  CHECK(t["TaskMonitor"] == "/redfish/v1/TaskService/TaskMonitors/1");
  CHECK(t["Messages"][0]["MessageId"] == "TaskEvent.1.0.TaskStarted");
  CHECK_FALSE(t.contains("EndTime"));
  CHECK(task_collection(book)["Members@odata.count"] == 1);
}

TEST_CASE("SimpleUpdate takes ImageURI, TransferProtocol and one target", "[unit]") {
  auto r = parse_simple_update(R"({"ImageURI":"https://x/bios.fd"})", targets);
  REQUIRE(std::holds_alternative<simple_update_request>(r));
  CHECK(std::get<simple_update_request>(r).image_uri == "https://x/bios.fd");
  CHECK(std::get<simple_update_request>(r).target == 0);
  r = parse_simple_update(R"({"ImageURI":"https://x/nic.bin","TransferProtocol":"HTTPS",
                              "Targets":["/redfish/v1/UpdateService/FirmwareInventory/nic"]})",
                          targets);
  REQUIRE(std::holds_alternative<simple_update_request>(r));
  CHECK(std::get<simple_update_request>(r).target == 1);
}

TEST_CASE("a bad SimpleUpdate body gets the Base registry's message for it", "[unit]") {
  CHECK(message_id(refused("{not json")) == "Base.1.8.1.MalformedJSON");
  CHECK(refused("{not json").status == 400);
  CHECK(message_id(refused("[1,2]")) == "Base.1.8.1.MalformedJSON");
  CHECK(message_id(refused("{}")) == "Base.1.8.1.ActionParameterMissing");
  CHECK(message_id(refused(R"({"ImageURI":5})")) == "Base.1.8.1.ActionParameterValueFormatError");
  CHECK(message_id(refused(R"({"ImageURI":"https://x/a","Username":"u"})"))
        == "Base.1.8.1.ActionParameterNotSupported");
  CHECK(message_id(refused(R"({"ImageURI":"https://x/a","TransferProtocol":"TFTP"})"))
        == "Base.1.8.1.ActionParameterValueFormatError");
  CHECK(message_id(refused(R"({"ImageURI":"https://x/a","TransferProtocol":"HTTP"})"))
        == "Base.1.8.1.ActionParameterValueFormatError");
  auto unknown = refused(R"({"ImageURI":"https://x/a",
                             "Targets":["/redfish/v1/UpdateService/FirmwareInventory/cpld"]})");
  CHECK(unknown.status == 400);
  CHECK(unknown.body["error"]["message"].get<std::string>().find("this node has: bios, nic")
        != std::string::npos);
  CHECK(refused(R"({"ImageURI":"https://x/a","Targets":"bios"})").status == 400);
  CHECK(refused(R"({"ImageURI":"https://x/a","Targets":[
                    "/redfish/v1/UpdateService/FirmwareInventory/bios",
                    "/redfish/v1/UpdateService/FirmwareInventory/nic"]})")
          .status
        == 400);
}
