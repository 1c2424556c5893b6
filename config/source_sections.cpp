#include "config/source_sections.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace fwrescue::config_detail {

namespace {

bool known_source(std::string_view s) {
  return s == "local" || s == "removable" || s == "peers" || s == "http";
}

/// Relative to the base URL: no scheme, no absolute path, no way up.
bool valid_index_name(std::string_view s) {
  return !s.empty() && s.size() <= 255 && s.front() != '/' && s.find("..") == s.npos
         && s.find(':') == s.npos && s.find_first_of(" \t\r\n") == s.npos;
}

} // namespace

void read_sources(table_reader& recovery, std::vector<std::string>& sources) {
  constexpr auto each = "one of \"local\", \"removable\", \"peers\", \"http\"";
  recovery.list("sources", sources, false, "an array of source names", each, known_source);
  std::set<std::string> seen;
  for (const auto& s : sources)
    if (!seen.insert(s).second) {
      if (auto* n = recovery.find("sources"))
        recovery.diag().bad_value(*n, recovery.name("sources"),
                                  fmt::format("each source at most once ('{}' is listed twice)", s));
      return;
    }
  if (sources.empty())
    if (auto* n = recovery.find("sources"))
      recovery.diag().bad_value(*n, recovery.name("sources"), "at least one source");
}

void read_local(table_reader r, local_source_config& local, bool listed) {
  r.path("dir", local.dir, listed);
  r.boolean("keep_golden", local.keep_golden);
  if (local.keep_golden && local.dir.empty())
    r.find("dir", true);
  r.finish();
}

void read_removable(table_reader r, removable_source_config& removable, bool listed) {
  r.list("watch", removable.watch, listed, "an array of directory paths",
         "a non-empty path string", valid_path, true);
  constexpr size_t max_watched = 16;
  if (removable.watch.size() > max_watched)
    if (auto* n = r.find("watch"))
      r.diag().bad_value(*n, r.name("watch"),
                         fmt::format("at most {} directories", max_watched));
  r.finish();
}

void read_http(table_reader r, http_source_config& http, bool listed) {
  // The URL is checked by the web location when the node starts: one that does not parse makes
  // that source fail with its reason while the others still serve.
  r.text("url", http.url, listed, "a URL such as \"https://fw.example/images/\"", non_empty);
  r.text("index", http.index, false,
         "a file name relative to the URL (no scheme, no leading '/', no '..')", valid_index_name);
  r.boolean("allow_http", http.allow_http);
  r.path("ca_file", http.ca_file, false, true);
  r.path("client_cert", http.client_cert, false, true);
  r.path("client_key", http.client_key, false, true);
  if (http.client_cert.empty() != http.client_key.empty())
    r.find(http.client_cert.empty() ? "client_cert" : "client_key", true);
  r.integer("connect_timeout_ms", http.connect_timeout_ms, 1, 600000);
  r.integer("stall_timeout_s", http.stall_timeout_s, 1, 3600);
  r.integer("retries", http.retries, 0, 100);
  r.integer("backoff_initial_ms", http.backoff_initial_ms, 0, 600000);
  r.finish();
}

} // namespace fwrescue::config_detail
