#include "tools/fwrescue/status_view.hpp"

#include <fmt/format.h>

namespace fwrescue::cli {

using json = nlohmann::ordered_json;

namespace {

std::string text(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                 : std::string{};
}

uint64_t number(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_unsigned() ? j[key].get<uint64_t>()
                                                                          : 0;
}

bool has_number(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number();
}

constexpr int bar_width = 20;

std::string progress_bar(uint64_t percent) {
  auto full = static_cast<int>(std::min<uint64_t>(percent, 100) * bar_width / 100);
  return "[" + std::string(static_cast<size_t>(full), '#')
         + std::string(static_cast<size_t>(bar_width - full), '.') + "]";
}

std::string recovering_line(const json& t, bool bar) {
  std::string line = fmt::format("{:<8} {:<13}", text(t, "target"), text(t, "state"));
  const auto& r = t.contains("recovery") ? t["recovery"] : json{};
  if (!t.contains("progress") || !t["progress"].is_object()) {
    line += fmt::format(" attempt {}: {}", number(r, "attempt"), text(r, "reason"));
    return line;
  }
  const auto& p = t["progress"];
  auto percent = number(p, "percent");
  if (bar)
    line += " " + progress_bar(percent);
  line += fmt::format(" {:>3}%  {} of {} {}", percent, number(p, "done"), number(p, "total"),
                      text(p, "unit").empty() ? "blocks" : text(p, "unit"));
  if (number(p, "bytes_total") > 0)
    line += fmt::format("  {} of {}", human_bytes(number(p, "bytes_done")),
                        human_bytes(number(p, "bytes_total")));
  if (has_number(p, "rate_bytes_per_s"))
    line += fmt::format("  {}/s", human_bytes(number(p, "rate_bytes_per_s")));
  if (has_number(p, "seconds_left"))
    line += fmt::format("  {} left", human_duration(number(p, "seconds_left")));
  else if (has_number(p, "rate_bytes_per_s"))
    line += "  stalled";
  if (!text(r, "donor").empty())
    line += "  from " + text(r, "donor");
  return line;
}

std::string idle_line(const json& t) {
  std::string line = fmt::format("{:<8} {:<13}", text(t, "target"), text(t, "state"));
  if (t.contains("installed") && t["installed"].is_object())
    line += fmt::format(" installed {} svn {}", text(t["installed"], "version"),
                        number(t["installed"], "svn"));
  else
    line += " nothing installed";
  if (t.contains("last_recovery") && t["last_recovery"].is_object()) {
    const auto& l = t["last_recovery"];
    auto took = human_duration((number(l, "duration_ms") + 500) / 1000);
    if (l.value("succeeded", false))
      line += fmt::format("; last recovery succeeded from {} in {}", text(l, "donor"), took);
    else
      line += fmt::format("; last recovery FAILED after {}: {}", took, text(l, "detail"));
  }
  return line;
}

} // namespace

std::string human_bytes(uint64_t bytes) {
  static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024)
    return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes) / 1024;
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::string human_duration(uint64_t seconds) {
  if (seconds < 60)
    return fmt::format("{} s", seconds);
  if (seconds < 3600)
    return fmt::format("{} min {:02} s", seconds / 60, seconds % 60);
  return fmt::format("{} h {:02} min", seconds / 3600, seconds / 60 % 60);
}

std::vector<json> targets_of(const json& status) {
  std::vector<json> out;
  if (!status.is_object())
    return out;
  if (status.contains("targets") && status["targets"].is_array()) {
    for (const auto& t : status["targets"])
      if (t.is_object())
        out.push_back(t);
  } else {
    out.push_back(status);
  }
  return out;
}

bool any_recovering(const json& status) {
  for (const auto& t : targets_of(status))
    if (t.contains("recovery"))
      return true;
  return false;
}

std::string watch_line(const json& target, bool bar) {
  return target.contains("recovery") ? recovering_line(target, bar) : idle_line(target);
}

std::string watch_key(const json& target) {
  if (!target.contains("recovery"))
    return idle_line(target);
  const auto& p = target.contains("progress") ? target["progress"] : json{};
  return fmt::format("{} {} {}", text(target, "state"), text(p, "phase"), number(p, "percent"));
}

} // namespace fwrescue::cli
