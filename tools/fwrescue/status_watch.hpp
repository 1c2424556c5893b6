#pragma once

#include "tools/fwrescue/admin_commands.hpp"

namespace fwrescue::cli {

/// `status --watch`: asks the daemon for its status every --interval seconds and shows each
/// target's phase, progress, rate and time left. On a terminal the lines are redrawn in place;
/// otherwise (a log, a pipe) a line is printed, with the time, whenever a target's phase or
/// whole percent changes. A daemon that cannot be reached is said once and asked again, as it
/// may be restarting. Runs until SIGINT or SIGTERM (exit 0); with --until-done it returns once
/// no target is recovering, 0 if every target's last recovery succeeded and 1 otherwise
/// (2 when the daemon cannot be reached).
int run_status_watch(const admin_options& opts);

} // namespace fwrescue::cli
