#include "tools/fwrescue/fleet_view.hpp"

#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace fwrescue::cli {

namespace {

using json = nlohmann::ordered_json;

std::string text(const json& j, const char* key, const char* absent = "-") {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                : std::string{absent};
}

std::string utc_time(int64_t seconds) {
  std::tm tm{};
  auto t = static_cast<std::time_t>(seconds);
  if (!::gmtime_r(&t, &tm))
    return std::to_string(seconds);
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", tm);
}

std::string links_of(const json& node) {
  std::string out;
  if (node.contains("links") && node["links"].is_array())
    for (const auto& l : node["links"]) {
      if (!out.empty())
        out += ",";
      out += text(l, "name", "?") + (l.value("up", false) ? "" : "(down)");
    }
  return out.empty() ? "-" : out;
}

std::string last_recovery(const json& t) {
  if (!t.contains("last_recovery") || !t["last_recovery"].is_object())
    return "-";
  const auto& r = t["last_recovery"];
  return fmt::format("#{} {} {}", r.value("number", uint64_t{0}), text(r, "outcome"),
                     utc_time(r.value("finished_at", int64_t{0})));
}

std::string target_columns(const json& t) {
  auto root = text(t, "root");
  return fmt::format("{:<10} {:<14} {:>4}  {:<16}  {:<12} {}", text(t, "target"),
                     text(t, "version"), t.value("svn", 0u), root.substr(0, 16), text(t, "state"),
                     last_recovery(t));
}

} // namespace

std::vector<std::string> fleet_table(const json& fleet) {
  std::vector<std::string> out;
  out.push_back(fmt::format("{:<16} {:<8} {:<16} {:<10} {:<14} {:>4}  {:<16}  {:<12} {}", "NODE",
                            "ROLE", "LINKS", "TARGET", "VERSION", "SVN", "ROOT", "STATE",
                            "LAST RECOVERY"));
  if (!fleet.contains("nodes") || !fleet["nodes"].is_array())
    return out;
  for (const auto& n : fleet["nodes"]) {
    std::string targets;
    if (n.contains("targets") && n["targets"].is_array())
      for (const auto& t : n["targets"])
        targets += (targets.empty() ? "" : "  |  ") + target_columns(t);
    if (targets.empty())
      targets = "-";
    if (n.value("truncated", false))
      targets += "  (more targets not shown)";
    out.push_back(fmt::format("{:<16} {:<8} {:<16} {}", text(n, "node"), text(n, "role"),
                              links_of(n), targets));
  }
  return out;
}

std::vector<std::string> fleet_drops(const json& fleet) {
  std::vector<std::string> out;
  if (fleet.contains("dropped") && fleet["dropped"].is_array())
    for (const auto& d : fleet["dropped"])
      out.push_back(fmt::format("dropped an answer from {} claiming {}: {}", text(d, "address"),
                                text(d, "node"), text(d, "reason")));
  if (fleet.value("left_out", uint64_t{0}) > 0)
    out.push_back(fmt::format("{} more answer(s) left out: over the bounds of one query",
                              fleet.value("left_out", uint64_t{0})));
  return out;
}

} // namespace fwrescue::cli
