#pragma once

// The reader of [dbus], the D-Bus objects' section.

#include "config/node_config.hpp"
#include "config/table_reader.hpp"

namespace fwrescue::config_detail {

void read_dbus(table_reader r, dbus_config& dbus);

/// A well-known bus name as the D-Bus specification allows one: two or more dot-separated
/// elements of [A-Za-z0-9_-], none starting with a digit, at most 255 bytes.
bool valid_bus_name(std::string_view s);

/// "system", "session", or a server address: "transport:key=value,..." in printable ASCII.
bool valid_bus(std::string_view s);

} // namespace fwrescue::config_detail
