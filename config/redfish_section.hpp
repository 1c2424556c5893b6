#pragma once

// The reader of [redfish] (docs/redfish.md).

#include "config/node_config.hpp"
#include "config/table_reader.hpp"

namespace fwrescue::config_detail {

/// [redfish]: when enabled, the certificate, key and credentials files are required.
void read_redfish(table_reader r, redfish_config& redfish);

} // namespace fwrescue::config_detail
