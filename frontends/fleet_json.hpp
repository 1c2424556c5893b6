#pragma once

#include <nlohmann/json.hpp>

#include "actors/fleet.hpp"

namespace fwrescue {

/// The fleet view as `fwrescue fleet --json` prints it (docs/fleet.md has the schema).
nlohmann::ordered_json fleet_json(const fleet_report& report);

} // namespace fwrescue
