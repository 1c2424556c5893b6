#pragma once

#include <string>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "tools/fwrescue/admin_commands.hpp"

namespace fwrescue::cli {

/// Sends one request to a running daemon's admin socket (found from --socket or the daemon's
/// --config) and returns its answer, whose "ok" is true; an answer with "ok": false, no answer
/// or a daemon that cannot be reached is an error saying which.
caf::expected<nlohmann::ordered_json> ask_daemon(const admin_options& opts,
                                                 const std::string& command);

/// The same with a request object of its own; the answer is awaited up to `timeout_ms`.
caf::expected<nlohmann::ordered_json>
ask_daemon(const admin_options& opts, const nlohmann::ordered_json& request, int timeout_ms);

} // namespace fwrescue::cli
