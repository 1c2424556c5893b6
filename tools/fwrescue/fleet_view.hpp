#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fwrescue::cli {

/// The fleet view as a table (docs/fleet.md): a header, then one line per node: node, role,
/// links, and for each target its name, version, svn, root (first 16 hex digits), state and last
/// recovery. `fleet` is the daemon's "fleet" object.
std::vector<std::string> fleet_table(const nlohmann::ordered_json& fleet);

/// One line per dropped answer: "dropped an answer from ADDRESS claiming NODE: WHY".
std::vector<std::string> fleet_drops(const nlohmann::ordered_json& fleet);

} // namespace fwrescue::cli
