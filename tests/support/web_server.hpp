#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

// A real web server for the image location tests and benchmark: lighttpd in the foreground on a
// free loopback port, with a configuration of its own in a directory the caller owns, stopped
// by its PID. Failures throw std::runtime_error (a test fails, the benchmark stops).

namespace fwrescue::test {

struct lighttpd_options {
  /// The directory served at "/".
  std::string document_root = {};
  /// Where lighttpd's configuration and error log go.
  std::string work_dir = {};
  /// Whether Range requests are answered with 206 (lighttpd's server.range-requests).
  bool ranges = true;
  /// TLS: the server's certificate and key (PEM); both empty serves plain http.
  std::string cert_file = {};
  std::string key_file = {};
  /// With TLS: a client certificate chaining to this CA file is required.
  std::string client_ca_file = {};
  /// Extra lines for lighttpd.conf (redirects); `$PORT` is replaced by the port.
  std::string extra_config = {};
};

class lighttpd_server {
public:
  explicit lighttpd_server(lighttpd_options options);
  lighttpd_server(const lighttpd_server&) = delete;
  lighttpd_server& operator=(const lighttpd_server&) = delete;
  ~lighttpd_server();

  uint16_t port() const {
    return port_;
  }

  /// "http://127.0.0.1:PORT" or "https://…".
  std::string url() const;

private:
  bool start(); // false when the port was taken in the meantime
  void stop();

  lighttpd_options options_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

/// Runs `argv` (argv[0] looked up in PATH), its output discarded; throws when it fails.
void run_program(const std::vector<std::string>& argv);

/// Certificates made with openssl at test time: a CA, a server certificate it signs for
/// 127.0.0.1, a client certificate it signs, and another CA that signs neither.
struct test_pki {
  explicit test_pki(const std::string& dir);

  std::string ca_file, server_cert, server_key, client_cert, client_key, other_ca_file;
};

/// A port on 127.0.0.1 that was free a moment ago.
uint16_t free_loopback_port();

} // namespace fwrescue::test
