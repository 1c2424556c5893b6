#pragma once

// Reads back the Prometheus text the exposition renders, as a scraper would: every line a
// comment (# HELP, # TYPE) or a sample `name{label="value",...} value`, label values with their
// escapes undone. Anything else fails the test that parses it.

#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace fwrescue::test {

struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

inline bool name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'
         || (!first && c >= '0' && c <= '9');
}

/// One sample line; fails the test (with the line) when it is not one.
inline sample parse_sample(const std::string& line) {
  INFO("line: " << line);
  sample out;
  size_t i = 0;
  while (i < line.size() && name_char(line[i], i == 0))
    out.name += line[i++];
  REQUIRE_FALSE(out.name.empty());
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      std::string key;
      while (i < line.size() && name_char(line[i], key.empty()))
        key += line[i++];
      REQUIRE_FALSE(key.empty());
      REQUIRE(line.substr(i, 2) == "=\"");
      i += 2;
      std::string value;
      for (;; ++i) {
        REQUIRE(i < line.size());
        if (line[i] == '"')
          break;
        if (line[i] == '\\') {
          ++i;
          REQUIRE(i < line.size());
          REQUIRE((line[i] == '\\' || line[i] == '"' || line[i] == 'n'));
          value += line[i] == 'n' ? '\n' : line[i];
        } else {
          REQUIRE(line[i] != '\n');
          value += line[i];
        }
      }
      ++i; // the closing quote
      REQUIRE(out.labels.count(key) == 0);
      out.labels[key] = value;
      if (i < line.size() && line[i] == ',')
        ++i;
    }
    REQUIRE(i < line.size());
    ++i; // '}'
  }
  REQUIRE(i < line.size());
  REQUIRE(line[i] == ' ');
  auto text = line.substr(i + 1);
  REQUIRE_FALSE(text.empty());
  if (text == "+Inf") {
    out.value = std::numeric_limits<double>::infinity();
  } else {
    char* end = nullptr;
    out.value = std::strtod(text.c_str(), &end);
    REQUIRE(end == text.c_str() + text.size());
  }
  return out;
}

/// Every sample of `text`; checks the comment lines' shape on the way.
inline std::vector<sample> parse_exposition(const std::string& text) {
  std::vector<sample> out;
  REQUIRE((text.empty() || text.back() == '\n'));
  size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    auto line = text.substr(at, end - at);
    at = end + 1;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0)
      continue;
    REQUIRE(line.rfind("#", 0) != 0);
    out.push_back(parse_sample(line));
  }
  return out;
}

/// The samples of `all` named `name` whose labels include every one of `labels`.
inline std::vector<sample> find_samples(const std::vector<sample>& all, const std::string& name,
                                        const std::map<std::string, std::string>& labels = {}) {
  std::vector<sample> out;
  for (const auto& s : all) {
    if (s.name != name)
      continue;
    bool match = true;
    for (const auto& [k, v] : labels)
      match = match && s.labels.count(k) && s.labels.at(k) == v;
    if (match)
      out.push_back(s);
  }
  return out;
}

} // namespace fwrescue::test
