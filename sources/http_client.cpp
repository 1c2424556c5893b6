#include "sources/http_client.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

namespace {

/// Redirects followed per request: enough for a moved directory and an http→https hop.
constexpr long max_redirects = 3;
/// Body bytes of an error answer read before the connection is given up instead.
constexpr uint64_t max_dropped_bytes = 64 * 1024;
constexpr uint64_t max_backoff_ms = 60'000;

bool iequals_prefix(std::string_view line, std::string_view name) {
  return line.size() >= name.size()
         && std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a))
                     == std::tolower(static_cast<unsigned char>(b));
            });
}

std::string_view header_value(std::string_view line, size_t name_size) {
  auto value = line.substr(name_size);
  auto first = value.find_first_not_of(" \t");
  auto last = value.find_last_not_of(" \t\r\n");
  if (first == std::string_view::npos || last == std::string_view::npos)
    return {};
  return value.substr(first, last - first + 1);
}

/// Sets every option that stays the same across requests; the first one libcurl refuses is
/// named in the error.
caf::error configure(CURL* easy, const http_source_config& config) {
  std::string protocols = config.allow_http ? "https,http" : "https";
  auto failed = [](const char* option, CURLcode rc) {
    return make_error(errc::invalid_argument,
                      fmt::format("http: libcurl refuses {}: {}", option, curl_easy_strerror(rc)));
  };
#define FWRESCUE_SETOPT(option, value)                                                             \
  if (auto rc = curl_easy_setopt(easy, option, value); rc != CURLE_OK)                             \
    return failed(#option, rc);
  FWRESCUE_SETOPT(CURLOPT_PROTOCOLS_STR, protocols.c_str());
  FWRESCUE_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, protocols.c_str());
  FWRESCUE_SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
  FWRESCUE_SETOPT(CURLOPT_MAXREDIRS, max_redirects);
  // Verification is libcurl's default; set anyway so that no later edit can drop it silently.
  FWRESCUE_SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
  FWRESCUE_SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
  FWRESCUE_SETOPT(CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
  FWRESCUE_SETOPT(CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
  FWRESCUE_SETOPT(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!config.ca_file.empty())
    FWRESCUE_SETOPT(CURLOPT_CAINFO, config.ca_file.c_str());
  if (!config.client_cert.empty()) {
    FWRESCUE_SETOPT(CURLOPT_SSLCERT, config.client_cert.c_str());
    FWRESCUE_SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
    FWRESCUE_SETOPT(CURLOPT_SSLKEY, config.client_key.c_str());
    FWRESCUE_SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
  }
  // No CURLOPT_PROXY and no CURLOPT_NOPROXY: libcurl then takes https_proxy, http_proxy,
  // all_proxy and no_proxy from the environment, as operators expect of a command-line fetch.
  FWRESCUE_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.connect_timeout_ms));
  FWRESCUE_SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
  FWRESCUE_SETOPT(CURLOPT_LOW_SPEED_TIME, static_cast<long>(config.stall_timeout_s));
  // Timeouts without SIGALRM: the calls run on a thread of a multi-threaded daemon.
  FWRESCUE_SETOPT(CURLOPT_NOSIGNAL, 1L);
  // No Accept-Encoding is sent, so ranges and byte counts are of the image's own bytes.
  FWRESCUE_SETOPT(CURLOPT_USERAGENT, "fwrescue");
#undef FWRESCUE_SETOPT
  return {};
}

/// A whole decimal number at the start of `text`, moving `text` past it.
std::optional<uint64_t> take_number(std::string_view& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data())
    return std::nullopt;
  text.remove_prefix(static_cast<size_t>(end - text.data()));
  return value;
}

} // namespace

std::optional<content_range> parse_content_range(std::string_view value) {
  if (!iequals_prefix(value, "bytes "))
    return std::nullopt;
  value.remove_prefix(6);
  auto first = take_number(value);
  if (!first || !value.starts_with('-'))
    return std::nullopt;
  value.remove_prefix(1);
  auto last = take_number(value);
  if (!last || *last < *first || !value.starts_with('/'))
    return std::nullopt;
  value.remove_prefix(1);
  if (value != "*") {
    auto total = take_number(value);
    if (!total || !value.empty() || *last >= *total)
      return std::nullopt;
  }
  return content_range{*first, *last};
}

bool http_result::ok() const {
  return code == CURLE_OK && (response.status == 200 || response.status == 206);
}

bool http_result::transient() const {
  switch (code) {
    case CURLE_OK:
      return response.status >= 500 || response.status == 429;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

std::string http_result::describe() const {
  if (code != CURLE_OK)
    return reason;
  return fmt::format("HTTP {}", response.status);
}

caf::expected<std::unique_ptr<http_client>> http_client::make(const http_source_config& config) {
  // Reference-counted and thread-safe in the libcurl this is built with (7.84 and later).
  if (auto rc = curl_global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK)
    return make_error(errc::io_failure,
                      fmt::format("http: libcurl does not start: {}", curl_easy_strerror(rc)));
  CURL* easy = curl_easy_init();
  if (easy == nullptr) {
    curl_global_cleanup();
    return make_error(errc::io_failure, "http: libcurl cannot make a handle");
  }
  std::unique_ptr<http_client> client{new http_client{easy}};
  client->allow_http_ = config.allow_http;
  if (auto err = configure(easy, config))
    return err;
  return client;
}

http_client::http_client(CURL* easy) : easy_(easy) {
}

http_client::~http_client() {
  curl_easy_cleanup(easy_);
  curl_global_cleanup();
}

http_result http_client::get(const std::string& url, const std::string& range,
                             const body_consumer& consume) {
  consume_ = &consume;
  response_ = {};
  dropped_ = 0;
  body_seen_ = 0;
  stopped_ = false;
  error_[0] = '\0';
  curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy_, CURLOPT_RANGE, range.empty() ? nullptr : range.c_str());
  curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_);
  curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &http_client::on_header);
  curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &http_client::on_body);
  curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  http_result result;
  result.code = curl_easy_perform(easy_);
  long connects = 0;
  if (curl_easy_getinfo(easy_, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
    connections_opened_ += static_cast<uint64_t>(connects);
  consume_ = nullptr;
  result.response = std::move(response_);
  result.stopped = stopped_;
  // An error answer's body cut after max_dropped_bytes: its status is the failure.
  if (result.code == CURLE_WRITE_ERROR && !stopped_ && dropped_ > max_dropped_bytes)
    result.code = CURLE_OK;
  if (result.code != CURLE_OK)
    result.reason = error_[0] != '\0' ? std::string{error_} : curl_easy_strerror(result.code);
  if (result.code == CURLE_UNSUPPORTED_PROTOCOL) {
    // libcurl's reason ("Protocol "http" not supported or disabled in libcurl") hides that a
    // redirect asked for it.
    char* target = nullptr;
    if (curl_easy_getinfo(easy_, CURLINFO_EFFECTIVE_URL, &target) == CURLE_OK && target != nullptr
        && url != target)
      result.reason = fmt::format("redirected to {}, which is not allowed ({})", target,
                                  allow_http_ ? "https or http only" : "https only");
  }
  // libcurl's messages may end in a newline; a reason is one line.
  while (!result.reason.empty() && (result.reason.back() == '\n' || result.reason.back() == '\r'))
    result.reason.pop_back();
  return result;
}

size_t http_client::on_header(char* data, size_t size, size_t count, void* self_ptr) {
  auto& self = *static_cast<http_client*>(self_ptr);
  size_t n = size * count;
  self.bytes_received_ += n;
  std::string_view line{data, n};
  if (line.starts_with("HTTP/")) {
    // Each response's status line starts its headers: a redirect's or a proxy's CONNECT answer
    // comes before the one whose body follows.
    self.response_ = {};
    self.body_seen_ = 0;
    auto space = line.find(' ');
    if (space != std::string_view::npos && line.size() >= space + 4)
      std::from_chars(line.data() + space + 1, line.data() + space + 4, self.response_.status);
  } else if (iequals_prefix(line, "content-type:")) {
    self.response_.content_type = header_value(line, 13);
  } else if (iequals_prefix(line, "content-range:")) {
    self.response_.content_range = header_value(line, 14);
  } else if (iequals_prefix(line, "content-length:")) {
    auto value = header_value(line, 15);
    int64_t length = -1;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (ec == std::errc{} && end == value.data() + value.size())
      self.response_.content_length = length;
  }
  return n;
}

size_t http_client::on_body(char* data, size_t size, size_t count, void* self_ptr) {
  auto& self = *static_cast<http_client*>(self_ptr);
  size_t n = size * count;
  self.bytes_received_ += n;
  if (self.response_.status != 200 && self.response_.status != 206) {
    self.dropped_ += n;
    return self.dropped_ <= max_dropped_bytes ? n : 0;
  }
  uint64_t seen = self.body_seen_;
  self.body_seen_ += n;
  if (self.stopped_)
    return n; // draining the rest, see below
  std::span bytes{reinterpret_cast<const uint8_t*>(data), n};
  if ((*self.consume_)(self.response_, bytes))
    return n;
  self.stopped_ = true;
  // Reading a short rest of the body keeps the connection for the next request; ending the
  // transfer (CURLE_WRITE_ERROR) closes it.
  auto length = self.response_.content_length;
  if (length >= 0 && static_cast<uint64_t>(length) >= seen + n
      && static_cast<uint64_t>(length) - seen - n <= max_dropped_bytes)
    return n;
  return 0;
}

retry_budget::retry_budget(const http_source_config& config)
  : left_(config.retries), wait_ms_(config.backoff_initial_ms) {
}

bool retry_budget::wait_for_next() {
  if (left_ == 0)
    return false;
  --left_;
  std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms_));
  wait_ms_ = std::min(wait_ms_ * 2, max_backoff_ms);
  return true;
}

} // namespace fwrescue
