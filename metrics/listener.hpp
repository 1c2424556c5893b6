#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <caf/expected.hpp>

namespace httplib {
class Server;
}

namespace fwrescue {

/// What the listener may cost whoever can reach it.
struct metrics_listener_limits {
  /// Requests answered at once (the threads of the server's pool).
  size_t threads = 2;
  /// Connections accepted and waiting for a thread; past this the accept loop waits, and the
  /// kernel's listen backlog (then refusal) takes the rest.
  size_t queued = 8;
  /// Each read and write on a connection must make progress within this.
  std::chrono::milliseconds io_timeout{2000};
  /// A GET has no body: a request carrying more than this is refused.
  size_t max_body = 1024;
};

/// The daemon's own HTTP endpoint for Prometheus: GET /metrics answers `page()` in the text
/// exposition format; every other path or method is 404. Plain HTTP on an address the operator
/// picks ([metrics] listen): loopback, or a management network the scraper is on.
// TODO(security): cpp-httplib 0.11 bounds each read by io_timeout but a request as a whole by
// nothing: a client that sends a header line every second keeps a thread (and its headers'
// memory, 8 KiB a line) until it stops. Bind to loopback or a network only trusted hosts reach.
class metrics_listener {
public:
  using page = std::function<std::string()>;

  /// Listens on `endpoint` ("IPv4:port"; port 0 picks a free one) in a thread of its own.
  /// Fails with one line naming the endpoint when the address cannot be bound.
  static caf::expected<std::unique_ptr<metrics_listener>>
  start(const std::string& endpoint, page render, metrics_listener_limits limits = {});

  ~metrics_listener();
  metrics_listener(const metrics_listener&) = delete;
  metrics_listener& operator=(const metrics_listener&) = delete;

  /// The port listened on (the one picked, for port 0).
  uint16_t port() const {
    return port_;
  }

  /// Stops accepting, lets the requests under way finish and joins the thread. Idempotent.
  void stop();

private:
  metrics_listener() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

} // namespace fwrescue
