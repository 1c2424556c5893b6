#include "config/table_reader.hpp"

#include <arpa/inet.h>
#include <charconv>

#include "messages/manifest.hpp"

namespace fwrescue::config_detail {

/// Makes untrusted text safe inside a one-line message: control and non-ASCII bytes become \xNN
/// and long text is cut, so a stray newline in a value cannot split the error line. Inside
/// quotes, `"` and `\` are escaped too so the quoted value reads unambiguously.
std::string printable(std::string_view s, bool quoted) {
  constexpr size_t max_shown = 80;
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (quoted && (c == '\\' || c == '"'))
      out += fmt::format("\\{}", static_cast<char>(c));
    else if (c < 0x20 || c > 0x7e)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (s.size() > max_shown)
    out += "...";
  return out;
}

std::string quote(std::string_view s) {
  return "\"" + printable(s, true) + "\"";
}

/// "got …" after a type mismatch: the kind of value, and the value itself for scalars.
std::string kind_of(const toml::node& n) {
  if (auto* v = n.as_string())
    return "a string (" + quote(v->get()) + ")";
  if (auto* v = n.as_integer())
    return fmt::format("an integer ({})", v->get());
  if (auto* v = n.as_floating_point())
    return fmt::format("a float ({})", v->get());
  if (auto* v = n.as_boolean())
    return fmt::format("a boolean ({})", v->get());
  if (n.is_array())
    return "an array";
  if (n.is_table())
    return "a table";
  if (n.is_date_time())
    return "a date-time";
  if (n.is_date())
    return "a date";
  return "a time";
}

/// "got …" after a value of the right type was refused: just the value.
std::string value_of(const toml::node& n) {
  if (auto* v = n.as_string())
    return quote(v->get());
  if (auto* v = n.as_integer())
    return std::to_string(v->get());
  if (auto* v = n.as_floating_point())
    return fmt::format("{}", v->get());
  return kind_of(n);
}

std::string one_of_text(std::initializer_list<std::string_view> allowed) {
  std::string out = "one of ";
  for (auto a : allowed)
    out += (out.size() > 7 ? ", " : "") + quote(a);
  return out;
}

bool valid_id(std::string_view s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
           || c == '_' || c == '-';
  });
}

/// The manifest's text rule, so the platform here can be compared with a manifest's.
bool valid_platform_text(std::string_view s) {
  return !s.empty() && s.size() <= manifest_limits::max_text
         && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool valid_ipv4(std::string_view s) {
  // A NUL would end the text early for inet_pton and let trailing junk through.
  if (s.find('\0') != std::string_view::npos)
    return false;
  in_addr addr{};
  return ::inet_pton(AF_INET, std::string{s}.c_str(), &addr) == 1;
}

bool valid_endpoint(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || !valid_ipv4(s.substr(0, colon)))
    return false;
  auto port_text = s.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  return ec == std::errc{} && end == port_text.data() + port_text.size() && !port_text.empty()
         && port >= 1 && port <= 65535;
}

bool valid_endpoint_or_empty(std::string_view s) {
  return s.empty() || valid_endpoint(s);
}

bool valid_path(std::string_view s) {
  // A NUL would silently cut the path when the daemon opens it.
  return !s.empty() && s.find('\0') == std::string_view::npos;
}

bool non_empty(std::string_view s) {
  return !s.empty();
}

bool all_printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

/// flashrom's "name[:parameters]": a name before any ':', printable throughout.
bool valid_programmer(std::string_view s) {
  return !s.empty() && s.front() != ':' && all_printable(s);
}

bool valid_chip_name(std::string_view s) {
  return !s.empty() && all_printable(s);
}

/// A version as manifests carry it, so a pin or list entry can match a manifest's version.
bool valid_version(std::string_view s) {
  return valid_platform_text(s);
}

bool valid_version_or_none(std::string_view s) {
  return s.empty() || valid_version(s);
}

} // namespace fwrescue::config_detail
