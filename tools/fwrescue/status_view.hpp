#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fwrescue::cli {

/// "512 B", "4.0 KiB", "3.5 MiB", "1.2 GiB".
std::string human_bytes(uint64_t bytes);

/// "45 s", "3 min 20 s", "1 h 05 min".
std::string human_duration(uint64_t seconds);

/// Every target's status object in a node's status (the node's own object, or its "targets").
std::vector<nlohmann::ordered_json> targets_of(const nlohmann::ordered_json& status);

/// True while any target of the node is recovering.
bool any_recovering(const nlohmann::ordered_json& status);

/// One line about one target for `status --watch`: its phase, and while it recovers the blocks
/// (or sectors) and bytes done, the rate and the time left; when idle, what is installed and how
/// the last recovery went. `bar` adds a progress bar (for a terminal).
std::string watch_line(const nlohmann::ordered_json& target, bool bar);

/// What a plain-line watch compares to decide whether a target's line is news: its phase and
/// whole percent, not its rate, which changes with every sample.
std::string watch_key(const nlohmann::ordered_json& target);

} // namespace fwrescue::cli
