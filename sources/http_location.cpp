#include "sources/http_location.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"
#include "sources/http_paths.hpp"
#include "sources/run_cursor.hpp"

namespace fwrescue {

namespace {

bool is_html(const http_response& response) {
  constexpr std::string_view html = "text/html";
  const auto& type = response.content_type;
  return type.size() >= html.size()
         && std::equal(html.begin(), html.end(), type.begin(),
                       [](char a, char b) { return a == std::tolower(static_cast<uint8_t>(b)); });
}

caf::error with_prefix(const char* prefix, const caf::error& err) {
  return make_error(has_code(err, errc::malformed) ? errc::malformed : errc::io_failure,
                    prefix + describe(err));
}

} // namespace

http_location::http_location(const http_source_config& config) : config_(config) {
  auto base = check_http_config(config);
  if (!base) {
    unusable_ = std::move(base.error());
    return;
  }
  base_ = std::move(*base);
  auto client = http_client::make(config);
  if (!client) {
    unusable_ = std::move(client.error());
    return;
  }
  client_ = std::move(*client);
}

http_location::http_location(const http_source_config& config, std::string manifest)
  : http_location(config) {
  only_manifest_ = std::move(manifest);
}

caf::expected<std::unique_ptr<image_location>>
make_http_image_location(const http_source_config& config, std::string_view image_uri) {
  auto parts = check_image_uri(config, image_uri);
  if (!parts)
    return std::move(parts.error());
  auto at = config;
  at.url = parts->base + "/";
  at.index = parts->manifest;
  auto location = std::make_unique<http_location>(at, parts->manifest);
  if (location->unusable_)
    return location->unusable_;
  return std::unique_ptr<image_location>{std::move(location)};
}

caf::expected<std::unique_ptr<image_location>>
make_http_location(const http_source_config& config) {
  auto location = std::make_unique<http_location>(config);
  // libcurl that cannot start fails every location alike: that is the node's problem, not
  // this source's.
  if (has_code(location->unusable_, errc::io_failure))
    return location->unusable_;
  return std::unique_ptr<image_location>{std::move(location)};
}

std::string http_location::configuration_problem() const {
  return unusable_ ? describe(unusable_) : std::string{};
}

caf::expected<std::vector<located_image>> http_location::list(std::vector<std::string>& skipped) {
  if (unusable_)
    return unusable_;
  std::vector<std::string> paths;
  if (!only_manifest_.empty()) {
    paths.push_back(only_manifest_);
  } else {
    auto index_url = base_ + "/" + config_.index;
    auto index = fetch(index_url, location_limits::max_index_bytes, {}, "an index");
    if (!index)
      return with_prefix("http ", index.error());
    std::string_view text{reinterpret_cast<const char*>(index->data()), index->size()};
    paths = parse_http_index(text, index_url, skipped);
  }
  std::vector<located_image> images;
  for (const auto& path : paths) {
    auto url = base_ + "/" + path;
    auto bytes = fetch(url, manifest_limits::max_file_bytes + manifest_file_magic.size(),
                       manifest_file_magic, "a manifest");
    if (!bytes) {
      skipped.push_back(describe(bytes.error()));
      continue;
    }
    auto manifest = decode_manifest_file(*bytes);
    if (!manifest) {
      skipped.push_back(fmt::format("{}: not a manifest: {}", url, describe(manifest.error())));
      continue;
    }
    images.push_back({image_url_of(url), std::move(*manifest)});
  }
  return images;
}

caf::expected<std::vector<uint8_t>> http_location::fetch(const std::string& url, size_t max_bytes,
                                                         std::span<const uint8_t> magic,
                                                         const char* what) {
  std::vector<uint8_t> body;
  retry_budget budget{config_};
  for (;;) {
    auto result = fetch_attempt(url, max_bytes, magic, what, body);
    if (!result.error)
      return body;
    if (!result.transient || !budget.wait_for_next())
      return result.error;
  }
}

http_location::attempt http_location::fetch_attempt(const std::string& url, size_t max_bytes,
                                                    std::span<const uint8_t> magic,
                                                    const char* what, std::vector<uint8_t>& body) {
  // A retry asks for the rest only; a server that sends the whole file again starts it over.
  uint64_t resume_at = body.size();
  auto range = resume_at > 0 ? fmt::format("{}-", resume_at) : std::string{};
  std::string problem;
  bool checked = false;
  auto result = client_->get(url, range, [&](const http_response& response, auto bytes) {
    if (!checked) {
      checked = true;
      if (is_html(response)) {
        problem = fmt::format("an HTML page, not {}", what);
        return false;
      }
      if (response.status == 200) {
        body.clear();
      } else if (auto got = parse_content_range(response.content_range);
                 !got || got->first != resume_at) {
        problem = fmt::format("asked for bytes from {}, got Content-Range '{}'", resume_at,
                              response.content_range);
        return false;
      }
      // Refuse what is announced too large before any of it is stored.
      if (response.content_length > 0
          && static_cast<uint64_t>(response.content_length) > max_bytes - body.size()) {
        problem =
          fmt::format("{} of {} bytes, more than the {} allowed", what,
                      body.size() + static_cast<uint64_t>(response.content_length), max_bytes);
        return false;
      }
    }
    if (bytes.size() > max_bytes - body.size()) {
      problem = fmt::format("{} of more than the {} bytes allowed", what, max_bytes);
      return false;
    }
    auto had = body.size();
    body.insert(body.end(), bytes.begin(), bytes.end());
    // Say so after a few bytes rather than after the whole file.
    if (had < magic.size() && body.size() >= magic.size()
        && !std::equal(magic.begin(), magic.end(), body.begin())) {
      problem =
        fmt::format("not {} (it does not start with \"{}\")", what,
                    std::string_view{reinterpret_cast<const char*>(magic.data()), magic.size()});
      return false;
    }
    return true;
  });
  if (!problem.empty())
    return {make_error(errc::malformed, fmt::format("{}: {}", url, problem)), false};
  if (!result.ok())
    return {make_error(errc::io_failure, fmt::format("{}: {}", url, result.describe())),
            result.transient()};
  return {};
}

caf::error http_location::read(const located_image& image, std::span<const byte_run> runs,
                               const run_sink& sink) {
  if (unusable_)
    return unusable_;
  // `where` came from list(); a location reads only under its own base URL.
  if (!image.where.starts_with(base_ + "/"))
    return make_error(errc::invalid_argument,
                      fmt::format("http: image '{}' is not under {}", image.where, base_));
  run_cursor cursor{runs};
  bool whole_image = false;
  while (!cursor.done()) {
    retry_budget budget{config_};
    for (;;) {
      auto result = read_attempt(image.where, cursor, whole_image, sink);
      if (!result.error)
        break;
      if (!result.transient || !budget.wait_for_next())
        return result.error;
    }
  }
  return {};
}

http_location::attempt http_location::read_attempt(const std::string& url, run_cursor& cursor,
                                                   bool& whole_image, const run_sink& sink) {
  bool ranged = !whole_image;
  uint64_t first = cursor.next();
  uint64_t last = cursor.run_end() - 1;
  auto range = ranged ? fmt::format("{}-{}", first, last) : std::string{};
  uint64_t received = 0; // body bytes of this try
  caf::error sink_error;
  std::string problem;
  bool checked = false;
  auto result = client_->get(url, range, [&](const http_response& response, auto bytes) {
    if (!checked) {
      checked = true;
      if (is_html(response)) {
        problem = "an HTML page, not the image";
        return false;
      }
      if (response.status == 200) {
        // The server does no ranges: this body is the whole image, and so will the rest of
        // this read's be.
        whole_image = true;
      } else if (!ranged) {
        problem = "answered 206 to a request without a range";
        return false;
      } else if (auto got = parse_content_range(response.content_range);
                 !got || got->first != first || got->last != last) {
        problem = fmt::format("asked for bytes {}-{}, got Content-Range '{}'", first, last,
                              response.content_range);
        return false;
      }
    }
    if (!whole_image && bytes.size() > last + 1 - first - received) {
      problem = fmt::format("sent more than the {} bytes asked", last + 1 - first);
      return false;
    }
    uint64_t offset = whole_image ? received : first + received;
    received += bytes.size();
    if (auto err = cursor.deliver(offset, bytes, sink)) {
      sink_error = std::move(err);
      return false;
    }
    // Past the last run the rest of a whole image is not needed (stopping costs the
    // connection, which a range answer keeps).
    return !(whole_image && cursor.done());
  });
  if (sink_error)
    return {std::move(sink_error), false};
  if (!problem.empty())
    return {make_error(errc::malformed, fmt::format("http {}: {}", url, problem)), false};
  if (result.stopped)
    return {}; // every run is in
  if (!result.ok())
    return {make_error(errc::io_failure, fmt::format("http {}: {}", url, result.describe())),
            result.transient()};
  if (result.response.status == 200)
    whole_image = true; // also when its body was empty
  if (whole_image && !cursor.done())
    return {make_error(errc::malformed, fmt::format("http {}: the image ends at {} bytes, "
                                                    "before byte {} of the runs",
                                                    url, received, cursor.next())),
            false};
  if (!whole_image && received != last + 1 - first)
    return {make_error(errc::malformed, fmt::format("http {}: sent {} of the {} bytes asked", url,
                                                    received, last + 1 - first)),
            false};
  return {};
}

} // namespace fwrescue
