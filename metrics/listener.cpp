#include "metrics/listener.hpp"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <httplib.h>

#include "common/error.hpp"
#include "frontends/http/server_setup.hpp"
#include "metrics/exposition.hpp"

namespace fwrescue {

caf::expected<std::unique_ptr<metrics_listener>>
metrics_listener::start(const std::string& endpoint, page render, metrics_listener_limits limits) {
  auto colon = endpoint.rfind(':');
  unsigned port = 0;
  auto port_text =
    colon == std::string::npos ? std::string_view{} : std::string_view{endpoint}.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (colon == std::string::npos || ec != std::errc{} || end != port_text.data() + port_text.size()
      || port_text.empty() || port > 65535)
    return make_error(errc::invalid_argument,
                      fmt::format("metrics: '{}' is not an IPv4:port endpoint", endpoint));
  auto host = endpoint.substr(0, colon);
  std::unique_ptr<metrics_listener> out{new metrics_listener};
  out->server_ = std::make_unique<httplib::Server>();
  auto& svr = *out->server_;
  http::bound_server(svr, limits.threads, limits.queued);
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(limits.io_timeout);
  auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(limits.io_timeout - secs);
  svr.set_read_timeout(secs.count(), usecs.count());
  svr.set_write_timeout(secs.count(), usecs.count());
  svr.set_payload_max_length(limits.max_body);
  // One request per connection: an idle kept-alive connection would hold a thread of the
  // few there are. A scraper connects once per scrape anyway.
  svr.set_keep_alive_max_count(1);
  svr.Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), std::string{exposition_content_type});
  });
  errno = 0;
  int bound = 0;
  if (port == 0) {
    bound = svr.bind_to_any_port(host);
  } else if (svr.bind_to_port(host, static_cast<int>(port))) {
    bound = static_cast<int>(port);
  }
  if (bound <= 0) {
    auto why = errno != 0 ? std::string{std::strerror(errno)} : std::string{"cannot bind"};
    return make_error(errc::io_failure,
                      fmt::format("metrics: cannot listen on {}: {}", endpoint, why));
  }
  out->port_ = static_cast<uint16_t>(bound);
  auto ended = std::make_shared<std::atomic<bool>>(false);
  out->thread_ = std::thread{[&svr, ended] {
    svr.listen_after_bind();
    ended->store(true);
  }};
  // Server::stop() does nothing before the server runs: a listener stopped right after start
  // would otherwise listen on and never be joined.
  while (!svr.is_running() && !ended->load())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return out;
}

metrics_listener::~metrics_listener() {
  stop();
}

void metrics_listener::stop() {
  if (!thread_.joinable())
    return;
  server_->stop();
  thread_.join();
}

} // namespace fwrescue
