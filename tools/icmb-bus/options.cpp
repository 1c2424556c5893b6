#include "tools/icmb-bus/options.hpp"

#include <charconv>
#include <cmath>
#include <set>
#include <string_view>

#include <fmt/format.h>

namespace icmb_bus {

const char* const usage = "usage: fwrescue-icmb-bus --baud N [--bit-error-rate R] [--seed S] "
                          "[--stats FILE] --link PATH --link PATH [--link PATH ...]";

namespace {

template <class T>
bool parse_number(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end && !text.empty();
}

// strtod would accept "nan", "inf" and leading blanks; from_chars accepts only plain numbers.
bool parse_rate(std::string_view text, double& out) {
  return parse_number(text, out) && std::isfinite(out);
}

} // namespace

outcome<bus_options> parse_options(int argc, const char* const* argv) {
  using result = outcome<bus_options>;
  bus_options opts;
  bool have_baud = false;
  std::set<std::string> seen_links;
  for (int i = 1; i < argc; ++i) {
    std::string_view name = argv[i];
    std::string_view value;
    // Both "--opt value" and "--opt=value".
    if (auto eq = name.find('='); name.starts_with("--") && eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (name == "--baud" || name == "--bit-error-rate" || name == "--seed"
               || name == "--stats" || name == "--link") {
      if (i + 1 >= argc)
        return result::fail(fmt::format("{} needs a value", name));
      value = argv[++i];
    } else {
      return result::fail(fmt::format("unknown argument '{}'", name));
    }
    if (name == "--baud") {
      if (!parse_number(value, opts.baud) || opts.baud == 0 || opts.baud > max_baud)
        return result::fail(
          fmt::format("--baud: expected an integer from 1 to {}, got '{}'", max_baud, value));
      have_baud = true;
    } else if (name == "--bit-error-rate") {
      if (!parse_rate(value, opts.bit_error_rate) || opts.bit_error_rate < 0
          || opts.bit_error_rate > 1)
        return result::fail(
          fmt::format("--bit-error-rate: expected a number from 0 to 1, got '{}'", value));
    } else if (name == "--seed") {
      if (!parse_number(value, opts.seed))
        return result::fail(
          fmt::format("--seed: expected an unsigned 64-bit integer, got '{}'", value));
    } else if (name == "--stats") {
      if (value.empty())
        return result::fail("--stats: expected a file path, got an empty one");
      opts.stats_path = value;
    } else if (name == "--link") {
      if (value.empty())
        return result::fail("--link: expected a path, got an empty one");
      if (!seen_links.emplace(value).second)
        return result::fail(fmt::format("--link: '{}' is given twice", value));
      opts.links.emplace_back(value);
    } else {
      return result::fail(fmt::format("unknown option '{}'", name));
    }
  }
  if (!have_baud)
    return result::fail("--baud is required");
  if (opts.links.size() < min_links || opts.links.size() > max_links)
    return result::fail(fmt::format("expected from {} to {} --link options, got {}", min_links,
                                    max_links, opts.links.size()));
  return result::ok(std::move(opts));
}

} // namespace icmb_bus
