#include "config/dbus_section.hpp"

namespace fwrescue::config_detail {

namespace {

bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
         || c == '-';
}

} // namespace

bool valid_bus_name(std::string_view s) {
  if (s.empty() || s.size() > 255)
    return false;
  size_t elements = 0;
  size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find('.', start);
    auto element = s.substr(start, end == std::string_view::npos ? s.npos : end - start);
    if (element.empty() || (element[0] >= '0' && element[0] <= '9')
        || !std::all_of(element.begin(), element.end(), name_char))
      return false;
    ++elements;
    if (end == std::string_view::npos)
      break;
    start = end + 1;
  }
  return elements >= 2;
}

bool valid_bus(std::string_view s) {
  if (s == "system" || s == "session")
    return true;
  // The bus library parses the rest of an address; here it only has to look like one, so a
  // typo ("sytem") is an error at start rather than a failed connection.
  auto colon = s.find(':');
  return colon != std::string_view::npos && colon > 0 && s.size() <= 1024
         && std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(colon),
                        [](char c) { return c >= 'a' && c <= 'z'; })
         && all_printable(s);
}

void read_dbus(table_reader r, dbus_config& dbus) {
  r.boolean("enabled", dbus.enabled);
  r.text("bus", dbus.bus, false,
         "\"system\", \"session\" or a D-Bus address such as \"unix:path=/run/bus\"", valid_bus);
  r.text("name", dbus.name, false,
         "a well-known bus name such as \"xyz.openbmc_project.Software.FwRescue\"", valid_bus_name);
  r.integer("refresh_ms", dbus.refresh_ms, 50, 60000);
  r.finish();
}

} // namespace fwrescue::config_detail
