#include "metrics/exposition.hpp"

#include <cmath>

#include <fmt/format.h>

namespace fwrescue {

namespace {

/// HELP text escapes `\` and newline only (the format's rule; quotes stay).
std::string escape_help(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

/// A float as the format writes it: Go's ParseFloat reads fmt's shortest round-trip form, and
/// the infinities and NaN have names of their own.
std::string number(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

/// `{a="x",b="y"}` for a series, with `extra` (le="…") last; empty when there are no labels.
std::string label_text(const std::vector<std::string>& names,
                       const std::vector<std::string>& values, const std::string& extra = {}) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i];
    out += "=\"";
    out += escape_label_value(i < values.size() ? values[i] : std::string{});
    out += '"';
  }
  if (!extra.empty()) {
    out += out.empty() ? "{" : ",";
    out += extra;
  }
  if (!out.empty())
    out += '}';
  return out;
}

void render_histogram(std::string& out, const family_snapshot& f, const series_snapshot& s) {
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= f.bounds.size(); ++b) {
    cumulative += b < s.buckets.size() ? s.buckets[b] : 0;
    auto le = b < f.bounds.size() ? number(f.bounds[b]) : std::string{"+Inf"};
    out += fmt::format("{}_bucket{} {}\n", f.name,
                       label_text(f.labels, s.values, "le=\"" + le + "\""), cumulative);
  }
  auto labels = label_text(f.labels, s.values);
  out += fmt::format("{}_sum{} {}\n", f.name, labels, number(s.sum));
  // The count is the +Inf bucket by definition; taken from the buckets, a collector's snapshot
  // cannot make the two disagree.
  out += fmt::format("{}_count{} {}\n", f.name, labels, cumulative);
}

} // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string render(const std::vector<family_snapshot>& families) {
  std::string out;
  for (const auto& f : families) {
    out += fmt::format("# HELP {} {}\n", f.name, escape_help(f.help));
    out += fmt::format("# TYPE {} {}\n", f.name,
                       f.type == metric_type::counter ? "counter" : "histogram");
    for (const auto& s : f.series) {
      if (f.type == metric_type::counter)
        out += fmt::format("{}{} {}\n", f.name, label_text(f.labels, s.values), s.value);
      else
        render_histogram(out, f, s);
    }
  }
  return out;
}

std::string render(const metric_registry& registry) {
  return render(registry.collect());
}

} // namespace fwrescue
