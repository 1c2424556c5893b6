#pragma once

// Readers of the tables that describe a node's flash chips: [flash] for its first firmware
// target, and [[target]] for the others, each with a [target.flash] table of the same keys.

#include "config/node_config.hpp"
#include "config/table_reader.hpp"

namespace fwrescue::config_detail {

void read_flash(table_reader r, flash_config& flash);

/// The [[target]] entries: names and components unique across the node (the first target's
/// name is its component), at most max_targets in all.
void read_targets(table_reader& top, node_config& cfg);

} // namespace fwrescue::config_detail
