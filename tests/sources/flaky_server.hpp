#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// A small HTTP/1.1 server on 127.0.0.1 that serves one body at every path and misbehaves on
// purpose for the first requests: it cuts the connection halfway through a body, stalls there,
// answers 503, or names the wrong bytes in Content-Range. lighttpd cannot be made to do that.

namespace fwrescue::test {

struct flaky_options {
  std::vector<uint8_t> body = {};
  /// Whether a Range request gets 206 and only its bytes (otherwise 200 and the whole body).
  bool ranges = true;
  /// The first this many answers with a body send their headers and half the body, then close.
  int cut_first = 0;
  /// The first this many answers with a body send half of it, then nothing more (a stall).
  int stall_first = 0;
  /// The first this many requests are answered 503.
  int busy_first = 0;
  /// Every 206 answer shifts its Content-Range and bytes by this many bytes.
  uint64_t range_shift = 0;
};

class flaky_server {
public:
  explicit flaky_server(flaky_options options);
  flaky_server(const flaky_server&) = delete;
  flaky_server& operator=(const flaky_server&) = delete;
  ~flaky_server();

  /// "http://127.0.0.1:PORT/PATH".
  std::string url(const std::string& path) const;

  /// The Range header's value of every request so far, in order ("" when there was none).
  std::vector<std::string> ranges_asked() const;

  /// Connections accepted so far.
  int connections() const {
    return connections_;
  }

private:
  void serve();
  void serve_connection(int fd);
  bool answer(int fd, const std::string& range);

  flaky_options options_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_ = false;
  std::atomic<int> connections_ = 0;
  int bodies_sent_ = 0;
  int requests_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> ranges_asked_;
  std::thread thread_;
};

} // namespace fwrescue::test
