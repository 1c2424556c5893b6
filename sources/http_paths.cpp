#include "sources/http_paths.hpp"

#include <algorithm>
#include <memory>
#include <set>

#include <curl/curl.h>
#include <fmt/format.h>

#include "common/error.hpp"
#include "sources/image_location.hpp"

namespace fwrescue {

namespace {

using url_handle = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;
using curl_text = std::unique_ptr<char, decltype(&curl_free)>;

/// One part of a parsed URL, or nothing when the URL has no such part.
std::optional<std::string> url_part(CURLU* url, CURLUPart part) {
  char* raw = nullptr;
  if (curl_url_get(url, part, &raw, 0) != CURLUE_OK || raw == nullptr)
    return std::nullopt;
  curl_text text{raw, &curl_free};
  return std::string{text.get()};
}

caf::error refuse(const std::string& url, std::string_view why) {
  return make_error(errc::invalid_argument, fmt::format("http: URL '{}' {}", url, why));
}

/// Characters a path may hold as they are: RFC 3986's unreserved and sub-delims, '@' and '/'.
/// '%' is left out so that an escaped "%2e%2e" cannot pass for a name and climb above the base
/// on a server that decodes it; ':' so that nothing reads as a scheme; '?' and '#' end a path.
bool plain_path_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  return std::string_view{"-._~!$&'()*+,;=@/"}.find(c) != std::string_view::npos;
}

/// Whether `path` starts like "scheme:" (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )).
bool has_scheme(std::string_view path) {
  auto colon = path.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(path[0]))
    return false;
  for (char c : path.substr(1, colon - 1))
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.')
      return false;
  return true;
}

/// At most 120 characters of `s`, non-printable bytes as '?', for quoting a client's text in
/// a one-line error.
std::string printable_prefix(std::string_view s) {
  std::string out{s.substr(0, 120)};
  for (auto& c : out)
    if (c < ' ' || c >= 0x7f)
      c = '?';
  if (s.size() > 120)
    out += "...";
  return out;
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view blanks = " \t\r\v\f";
  auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos)
    return {};
  return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

} // namespace

caf::expected<std::string> check_http_config(const http_source_config& config) {
  if (config.client_cert.empty() != config.client_key.empty())
    return make_error(errc::invalid_argument, config.client_cert.empty()
                                                ? "http: client_key is set without client_cert"
                                                : "http: client_cert is set without client_key");
  url_handle url{curl_url(), &curl_url_cleanup};
  if (!url)
    return make_error(errc::io_failure, "http: libcurl cannot allocate a URL");
  if (auto rc = curl_url_set(url.get(), CURLUPART_URL, config.url.c_str(), 0); rc != CURLUE_OK)
    return refuse(config.url, fmt::format("does not parse: {}", curl_url_strerror(rc)));
  auto scheme = url_part(url.get(), CURLUPART_SCHEME).value_or("");
  if (scheme != "https" && !(scheme == "http" && config.allow_http))
    return refuse(config.url,
                  scheme == "http" ? "is plain http and allow_http is not set" : "is not https");
  if (url_part(url.get(), CURLUPART_QUERY) || url_part(url.get(), CURLUPART_FRAGMENT))
    return refuse(config.url, "has a query or fragment, so paths cannot be appended to it");
  // The URL appears in logs and status lines; a password in it would too.
  if (url_part(url.get(), CURLUPART_USER) || url_part(url.get(), CURLUPART_PASSWORD))
    return refuse(config.url, "carries a user name or password, which would show in logs");
  if (auto why = relative_path_problem(config.index))
    return make_error(errc::invalid_argument,
                      fmt::format("http: index '{}' {}", config.index, *why));
  auto normalised = url_part(url.get(), CURLUPART_URL);
  if (!normalised)
    return refuse(config.url, "cannot be rebuilt by libcurl");
  while (!normalised->empty() && normalised->back() == '/')
    normalised->pop_back();
  return *normalised;
}

std::optional<std::string> relative_path_problem(std::string_view path) {
  if (path.empty())
    return "is empty";
  if (path.starts_with('/'))
    return "is absolute";
  if (has_scheme(path))
    return "has a scheme";
  for (char c : path)
    if (!plain_path_char(c))
      return c >= ' ' && c < 0x7f ? fmt::format("has the character '{}'", c)
                                  : fmt::format("has the byte {:#04x}",
                                                static_cast<unsigned>(static_cast<uint8_t>(c)));
  for (size_t start = 0; start <= path.size();) {
    auto end = std::min(path.find('/', start), path.size());
    if (path.substr(start, end - start) == "..")
      return "has a '..' segment";
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> index_path_problem(std::string_view path) {
  if (auto why = relative_path_problem(path))
    return why;
  auto name = path.substr(path.rfind('/') + 1);
  if (name.size() <= 4 || !name.ends_with(".fwm"))
    return "does not name a manifest (NAME.fwm)";
  return std::nullopt;
}

std::vector<std::string> parse_http_index(std::string_view text, const std::string& index_url,
                                          std::vector<std::string>& skipped) {
  std::vector<std::string> paths;
  std::set<std::string_view> seen;
  size_t entries = 0;
  size_t line_no = 0;
  for (size_t start = 0; start < text.size();) {
    auto end = std::min(text.find('\n', start), text.size());
    auto line = trim(text.substr(start, end - start));
    start = end + 1;
    ++line_no;
    if (line.empty() || line.starts_with('#'))
      continue;
    // Refused and repeated entries count too: they cost a line in `skipped` or a lookup each.
    if (++entries > location_limits::max_images)
      continue;
    if (auto why = index_path_problem(line)) {
      // Quote at most a screenful of the refused line: it is whatever the server sent.
      auto shown = line.substr(0, 80);
      bool printable =
        std::all_of(shown.begin(), shown.end(), [](char c) { return c >= ' ' && c < 0x7f; });
      auto quoted = printable ? fmt::format("'{}{}'", shown, shown.size() < line.size() ? "…" : "")
                              : std::string{"the path"};
      skipped.push_back(fmt::format("{} line {}: {} {}", index_url, line_no, quoted, *why));
      continue;
    }
    if (seen.insert(line).second)
      paths.emplace_back(line);
  }
  if (entries > location_limits::max_images)
    skipped.push_back(fmt::format("{}: {} entries, only the first {} are looked at", index_url,
                                  entries, location_limits::max_images));
  return paths;
}

caf::expected<image_uri_parts> check_image_uri(const http_source_config& config,
                                               std::string_view uri) {
  auto refused = [&](std::string_view why) {
    auto shown = printable_prefix(uri);
    return make_error(errc::invalid_argument, fmt::format("ImageURI '{}' {}", shown, why));
  };
  if (uri.empty())
    return refused("is empty");
  if (uri.size() > max_image_uri)
    return refused(fmt::format("is longer than {} characters", max_image_uri));
  if (!std::all_of(uri.begin(), uri.end(), [](char c) { return c > ' ' && c < 0x7f; }))
    return refused("has a blank, control or non-ASCII character");
  // The whole URL first: its scheme, query and credentials get check_http_config's reasons.
  auto whole = config;
  whole.url = std::string{uri};
  whole.index = "index";
  if (auto checked = check_http_config(whole); !checked)
    return refused(fmt::format("is not a usable URL: {}", describe(checked.error())));
  if (uri.ends_with('/'))
    return refused("names a directory, not an image file");
  std::string manifest{uri};
  if (!manifest.ends_with(".fwm"))
    manifest += ".fwm";
  auto slash = manifest.rfind('/');
  auto scheme_end = manifest.find("://");
  if (slash == std::string::npos || scheme_end == std::string::npos || slash < scheme_end + 3
      || manifest.find('/', scheme_end + 3) == slash + 1)
    return refused("names no file on the server");
  auto parts = config;
  parts.url = manifest.substr(0, slash + 1);
  parts.index = manifest.substr(slash + 1);
  if (auto why = index_path_problem(parts.index))
    return refused(fmt::format("has a file name that {}", *why));
  auto base = check_http_config(parts);
  if (!base)
    return refused(fmt::format("is not a usable URL: {}", describe(base.error())));
  return image_uri_parts{std::move(*base), std::move(parts.index)};
}

std::string image_url_of(const std::string& manifest_url) {
  return manifest_url.substr(0, manifest_url.size() - 4);
}

} // namespace fwrescue
