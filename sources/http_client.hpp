#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <caf/expected.hpp>
#include <curl/curl.h>

#include "config/source_config.hpp"

namespace fwrescue {

/// The headers of the response a body belongs to: the last one, after any redirects.
struct http_response {
  long status = 0;
  std::string content_type;
  std::string content_range;
  /// Content-Length, or -1 when the server did not say.
  int64_t content_length = -1;
};

/// The first and last byte a Content-Range header names ("bytes 0-99/1000", "bytes 0-99/*"),
/// or nothing when it does not parse.
struct content_range {
  uint64_t first = 0;
  uint64_t last = 0;
};
std::optional<content_range> parse_content_range(std::string_view value);

/// Takes each piece of a 200 or 206 body as it arrives; returning false stops the transfer.
using body_consumer = std::function<bool(const http_response&, std::span<const uint8_t>)>;

/// How one try of a request ended.
struct http_result {
  /// CURLE_OK when the whole response arrived (whatever its status).
  CURLcode code = CURLE_OK;
  /// libcurl's one-line reason when `code` is not CURLE_OK.
  std::string reason;
  http_response response;
  /// The consumer stopped the transfer; why is the consumer's to say.
  bool stopped = false;

  /// Whether the response arrived whole with status 200 or 206.
  bool ok() const;
  /// Whether another try may go better: connecting failed, the connection was cut or stalled,
  /// or the server answered 5xx or 429 (busy).
  bool transient() const;
  /// The failure in one line: "HTTP 404", or libcurl's reason.
  std::string describe() const;
};

/// One libcurl handle with a web location's settings: TLS verification always on (with the
/// configured CA file and client certificate), protocols https (and http when allowed) for the
/// request and for at most 3 redirects, connect and stall timeouts, proxies from the usual
/// environment variables. The handle and its connection are kept across requests, so a read's
/// ranges travel over one connection. One request at a time.
class http_client {
public:
  /// Fails when libcurl cannot start or does not take one of the settings.
  static caf::expected<std::unique_ptr<http_client>> make(const http_source_config& config);

  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;
  ~http_client();

  /// GETs `url`, asking for `range` ("first-last" in bytes) unless it is empty, and hands the
  /// body of a 200 or 206 answer to `consume`. Bodies of other answers are dropped, and so is
  /// the rest of one `consume` stopped; up to 64 KiB of them are read so the connection can be
  /// kept, a longer one ends it.
  http_result get(const std::string& url, const std::string& range, const body_consumer& consume);

  /// Bytes received so far: status lines, headers and bodies as they arrived (after TLS).
  uint64_t bytes_received() const {
    return bytes_received_;
  }

  /// Connections opened so far; a read of many runs over one kept connection opens one.
  uint64_t connections_opened() const {
    return connections_opened_;
  }

private:
  explicit http_client(CURL* easy);
  static size_t on_header(char* data, size_t size, size_t count, void* self);
  static size_t on_body(char* data, size_t size, size_t count, void* self);

  CURL* easy_;
  bool allow_http_ = false;
  char error_[CURL_ERROR_SIZE] = {};
  // State of the request under way.
  const body_consumer* consume_ = nullptr;
  http_response response_;
  uint64_t dropped_ = 0;
  uint64_t body_seen_ = 0;
  bool stopped_ = false;

  // Read by status reports while a request runs.
  std::atomic<uint64_t> bytes_received_ = 0;
  std::atomic<uint64_t> connections_opened_ = 0;
};

/// The tries one request may take: `retries` after the first, waiting between them from
/// backoff_initial_ms, doubling, at most a minute.
class retry_budget {
public:
  explicit retry_budget(const http_source_config& config);

  /// False when no try is left; otherwise waits the backoff and returns true.
  bool wait_for_next();

private:
  uint32_t left_;
  uint64_t wait_ms_;
};

} // namespace fwrescue
