#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "config/source_config.hpp"

// What a web location accepts as its base URL and as the lines of its index, checked before a
// byte is fetched (docs/sources.md, "Web server").

namespace fwrescue {

/// The base URL `config` names, normalised by libcurl's parser and without a trailing '/', or
/// the one-line reason it cannot be used ("http: URL 'x' does not parse: …"): it does not
/// parse, is not https (http only with allow_http), carries a query, fragment or credentials,
/// client_cert and client_key are not set together, or `index` is not a relative path (see
/// relative_path_problem).
caf::expected<std::string> check_http_config(const http_source_config& config);

/// Why `path` cannot be appended to the base URL, or nothing when it can: it must be relative,
/// stay under the base (no `..` segment), have no scheme, and use only characters that need no
/// escaping in a URL path.
std::optional<std::string> relative_path_problem(std::string_view path);

/// Why `path`, a line of an index, cannot name a manifest under the base URL, or nothing when
/// it can: relative_path_problem's rules, and a name ending in `.fwm`.
std::optional<std::string> index_path_problem(std::string_view path);

/// The manifest paths of an index's text, in order, duplicates dropped: blank lines and lines
/// starting with '#' are ignored, surrounding blanks trimmed. A refused line, and entries past
/// location_limits::max_images (counted once), add a line to `skipped` naming `index_url`.
std::vector<std::string> parse_http_index(std::string_view text, const std::string& index_url,
                                          std::vector<std::string>& skipped);

/// Longest image URL a client may name (Redfish SimpleUpdate's ImageURI).
constexpr size_t max_image_uri = 2048;

/// An image URL split into the base URL of a location and its manifest's name under it.
struct image_uri_parts {
  /// Normalised as check_http_config returns it, without a trailing '/'.
  std::string base;
  /// `NAME.fwm`.
  std::string manifest;
};

/// Where the manifest of the image at `uri` is: the URL itself when it ends in `.fwm`, else
/// `uri` + ".fwm" (as in a local or removable directory). The URL must pass check_http_config
/// with `config`'s other settings (https, or http with allow_http; no query, fragment or
/// credentials), name a file, and be at most max_image_uri long; the error says which rule it
/// breaks ("ImageURI 'ftp://x/a.fd': http: URL 'ftp://x/a.fd' is not https").
caf::expected<image_uri_parts> check_image_uri(const http_source_config& config,
                                               std::string_view uri);

/// The image URL of a manifest URL: `NAME.fwm` → `NAME`.
std::string image_url_of(const std::string& manifest_url);

} // namespace fwrescue
