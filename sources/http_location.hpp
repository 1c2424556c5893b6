#pragma once

#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "config/source_config.hpp"
#include "sources/http_client.hpp"
#include "sources/image_location.hpp"

namespace fwrescue {

class run_cursor;

/// A web server holding signed images ([http], docs/sources.md "Web server"): `<url>/<index>`
/// lists manifest paths relative to `url`, and the image of `NAME.fwm` is `NAME`. Reads ask for
/// each run with a Range request over one kept connection; a server that answers with the whole
/// image instead is read once per read(), handing the sink only the runs. Failed transfers are
/// tried again and resume at the last byte received. One call at a time.
class http_location : public image_location {
public:
  /// A configuration it cannot use (the URL, the client certificate pair, a setting libcurl
  /// refuses) still makes a location: every call of it fails with the one-line reason, so a
  /// node starts and its recovery goes on to the next source.
  explicit http_location(const http_source_config& config);

  /// A location of one image: `manifest` (NAME.fwm) under `config.url`, read without an index.
  http_location(const http_source_config& config, std::string manifest);

  std::string name() const override {
    return "http";
  }

  caf::expected<std::vector<located_image>> list(std::vector<std::string>& skipped) override;

  caf::error read(const located_image& image, std::span<const byte_run> runs,
                  const run_sink& sink) override;

  /// Status lines, headers and bodies as received (after TLS), error answers included.
  uint64_t bytes_read() const override {
    return client_ ? client_->bytes_received() : 0;
  }

  /// Why this location cannot be used, in one line; empty when it can.
  std::string configuration_problem() const;

  /// Connections opened so far (tests check that a read's runs share one).
  uint64_t connections_opened() const {
    return client_ ? client_->connections_opened() : 0;
  }

private:
  /// How one try of a transfer ended: done, or an error and whether trying again may help.
  struct attempt {
    caf::error error;
    bool transient = false;
  };

  /// GETs a file of at most `max_bytes` into memory, for the index and the manifests. `magic`,
  /// when not empty, is what its first bytes must be, checked as soon as they arrive. The error
  /// reads "URL: reason".
  caf::expected<std::vector<uint8_t>> fetch(const std::string& url, size_t max_bytes,
                                            std::span<const uint8_t> magic, const char* what);
  attempt fetch_attempt(const std::string& url, size_t max_bytes, std::span<const uint8_t> magic,
                        const char* what, std::vector<uint8_t>& body);

  /// One try at the bytes `cursor` still owes: a Range request for the rest of its run, or the
  /// whole image once `whole_image` is set (the server answered a range with 200).
  attempt read_attempt(const std::string& url, run_cursor& cursor, bool& whole_image,
                       const run_sink& sink);

  http_source_config config_;
  /// The checked base URL, without a trailing '/'.
  std::string base_;
  /// Why this location cannot be used; none when it can.
  caf::error unusable_;
  std::unique_ptr<http_client> client_;
  /// Set for a location of one image: its manifest's path, listed instead of an index's.
  std::string only_manifest_;

  friend caf::expected<std::unique_ptr<image_location>>
  make_http_location(const http_source_config& config);
  friend caf::expected<std::unique_ptr<image_location>>
  make_http_image_location(const http_source_config& config, std::string_view image_uri);
};

/// Makes the location of the one image at `image_uri` (check_image_uri says where its manifest
/// is), with [http]'s TLS, timeout and retry settings. Fails with the one-line reason when the
/// URL is not one it can use, or libcurl cannot start.
caf::expected<std::unique_ptr<image_location>>
make_http_image_location(const http_source_config& config, std::string_view image_uri);

/// Makes the location of an [http] table. Fails only when libcurl cannot start (no memory, no
/// TLS library); a configuration it cannot use gives a location whose calls fail with the
/// reason (see http_location).
caf::expected<std::unique_ptr<image_location>> make_http_location(const http_source_config& config);

} // namespace fwrescue
