#pragma once

// The daemon's metrics wiring: the counting flash each target writes through, the collectors
// that render counts kept elsewhere at scrape time, and the [metrics] listener.

#include <memory>
#include <vector>

#include "actors/node_context.hpp"
#include "metrics/listener.hpp"

namespace fwrescue {

/// Puts each target's flash behind a counting_flash (before any actor holds the chip) and adds
/// to the node's registry the collectors of the flashes' counts and of what the links turned
/// away. `targets` share one node_metrics (build_targets copies the first context).
void instrument_targets(const std::vector<std::shared_ptr<node_context>>& targets);

/// The [metrics] listener when metrics.listen names one, else null. An address that cannot be
/// bound is logged as an error and the daemon runs on without it: recovering the flash matters
/// more than being watched, and the scraper reports the endpoint down.
std::unique_ptr<metrics_listener> start_metrics_listener(const node_context& ctx);

} // namespace fwrescue
