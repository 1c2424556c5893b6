#pragma once

// Readers of the sections that configure a node's links: [lan], [icmb], [ble].

#include "config/node_config.hpp"
#include "config/table_reader.hpp"

namespace fwrescue::config_detail {

void read_lan(table_reader r, lan_config& lan);
void read_icmb(table_reader r, icmb_config& icmb);
void read_ble(table_reader r, ble_config& ble);

} // namespace fwrescue::config_detail
