// What D-Bus shows for a target: the status JSON a coordinator reports, mapped to the
// properties of phosphor-dbus-interfaces' Software.Version, .Activation and
// .ActivationProgress. One case per row of docs/dbus.md's state table.
#include <catch2/catch.hpp>

#include "frontends/dbus/software_state.hpp"

using namespace fwrescue::dbus;
using json = nlohmann::ordered_json;

namespace {

/// A status as actors/coordinator_status.cpp writes it, with the fields the mapping reads.
json status(const std::string& state, bool checked, bool ok, json fault = nullptr) {
  return json{{"state", state},
              {"installed", {{"version", "2022.11"}, {"svn", 1}, {"root", "ab"}}},
              {"last_check", {{"checked", checked}, {"ok", ok}, {"fault", fault}, {"detail", ""}}}};
}

json with_progress(json j, uint64_t percent) {
  j["progress"] = {{"phase", j["state"]}, {"done", percent}, {"total", 100}, {"percent", percent}};
  return j;
}

} // namespace

TEST_CASE("a flash that checked good is Active, at 100 percent, with its installed version") {
  auto v = view_of(status("idle", true, true));
  CHECK(v.state == activation::active);
  CHECK(v.progress == 100);
  CHECK(v.version == "2022.11");
  CHECK(to_dbus(v.state) == "xyz.openbmc_project.Software.Activation.Activations.Active");
  // A finished recovery's verification is the latest check.
  CHECK(view_of(status("done", true, true)).state == activation::active);
}

TEST_CASE("a running recovery is Activating with its step's percent, whatever the last check") {
  for (auto phase :
       {"discovering", "negotiating", "transferring", "staged", "flashing", "verifying"}) {
    INFO(phase);
    auto v = view_of(with_progress(status(phase, true, false), 42));
    CHECK(v.state == activation::activating);
    CHECK(v.progress == 42);
    CHECK(view_of(with_progress(status(phase, true, true), 7)).state == activation::activating);
  }
  // Before a step reports its size there is no progress object: 0, not the last step's.
  CHECK(view_of(status("discovering", true, false)).progress == 0);
}

TEST_CASE("a failed recovery is Failed until a check passes") {
  auto v = view_of(status("failed", true, false));
  CHECK(v.state == activation::failed);
  CHECK(v.progress == 0);
  CHECK(to_dbus(v.state) == "xyz.openbmc_project.Software.Activation.Activations.Failed");
  CHECK(view_of(status("failed", true, true)).state == activation::active);
}

TEST_CASE("a damaged flash with no recovery running is Invalid") {
  // Bad blocks with auto_recover off, or a recovery that ended and a later check that failed.
  CHECK(view_of(status("idle", true, false)).state == activation::invalid);
  CHECK(view_of(status("done", true, false)).state == activation::invalid);
  // A chip that cannot be read, or an image that can never fit it.
  CHECK(view_of(status("idle", false, false, "unreadable")).state == activation::invalid);
  CHECK(view_of(status("idle", true, false, "unfixable")).state == activation::invalid);
}

TEST_CASE("nothing checked yet, or nothing to check against, is NotReady") {
  CHECK(view_of(status("idle", false, false)).state == activation::not_ready);
  auto none = status("idle", false, false);
  none["installed"] = nullptr;
  auto v = view_of(none);
  CHECK(v.state == activation::not_ready);
  CHECK(v.version.empty());
  CHECK(unknown_view().state == activation::not_ready);
}

TEST_CASE("a status with missing or mistyped fields reads as unknown, without throwing") {
  CHECK(view_of(json{}).state == activation::not_ready);
  CHECK(view_of(json::array()).state == activation::not_ready);
  json odd{{"state", 3}, {"installed", "x"}, {"last_check", {{"checked", "yes"}}}};
  CHECK(view_of(odd) == unknown_view());
  auto over = with_progress(status("flashing", true, false), 100);
  over["progress"]["percent"] = 250;
  CHECK(view_of(over).progress == 100);
  over["progress"]["percent"] = -5;
  CHECK(view_of(over).progress == 0);
}

TEST_CASE("RequestedActivation takes the full names of its two values only") {
  CHECK(parse_requested("xyz.openbmc_project.Software.Activation.RequestedActivations.Active")
        == requested_activation::active);
  CHECK(parse_requested("xyz.openbmc_project.Software.Activation.RequestedActivations.None")
        == requested_activation::none);
  CHECK_FALSE(parse_requested("Active"));
  CHECK_FALSE(parse_requested(""));
  CHECK_FALSE(parse_requested("xyz.openbmc_project.Software.Activation.Activations.Active"));
  CHECK_FALSE(
    parse_requested("xyz.openbmc_project.Software.Activation.RequestedActivations.active"));
  CHECK(to_dbus(requested_activation::none)
        == "xyz.openbmc_project.Software.Activation.RequestedActivations.None");
}

TEST_CASE("the purpose follows the component: the BIOS is the host's firmware") {
  CHECK(purpose_of("bios") == "xyz.openbmc_project.Software.Version.VersionPurpose.Host");
  CHECK(purpose_of("bmc") == "xyz.openbmc_project.Software.Version.VersionPurpose.BMC");
  CHECK(purpose_of("psu") == "xyz.openbmc_project.Software.Version.VersionPurpose.PSU");
  CHECK(purpose_of("nic") == "xyz.openbmc_project.Software.Version.VersionPurpose.Other");
}

TEST_CASE("a target's object path is its name, escaped as sd-bus escapes path elements") {
  CHECK(object_path_of("bios") == "/xyz/openbmc_project/software/bios");
  CHECK(object_path_of("nic0") == "/xyz/openbmc_project/software/nic0");
  CHECK(object_path_of("second-bios") == "/xyz/openbmc_project/software/second_2dbios");
  CHECK(object_path_of("a.b_c") == "/xyz/openbmc_project/software/a_2eb_5fc");
  CHECK(object_path_of("2nd") == "/xyz/openbmc_project/software/_32nd");
  CHECK(object_path_of("") == "/xyz/openbmc_project/software/_");
  // Different names never share a path.
  CHECK(object_path_of("a-b") != object_path_of("a_b"));
}
