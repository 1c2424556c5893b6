#include "metrics/listener.hpp"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

#include <sys/socket.h>

#include <fmt/format.h>
#include <httplib.h>

#include "common/error.hpp"
#include "metrics/exposition.hpp"

namespace fwrescue {

namespace {

/// cpp-httplib's pool with a bound: its own ThreadPool queues every accepted connection, so a
/// flood of connections would hold descriptors without end. Here enqueue() waits while
/// `max_queued` wait already; the accept loop stops accepting meanwhile.
class bounded_pool : public httplib::TaskQueue {
public:
  bounded_pool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
    for (size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] { work(); });
  }

  void enqueue(std::function<void()> fn) override {
    {
      std::unique_lock<std::mutex> lock{mutex_};
      room_.wait(lock, [&] { return jobs_.size() < max_queued_ || shutdown_; });
      jobs_.push_back(std::move(fn));
    }
    ready_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      shutdown_ = true;
    }
    ready_.notify_all();
    room_.notify_all();
    for (auto& t : threads_)
      t.join();
  }

private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock{mutex_};
        ready_.wait(lock, [&] { return !jobs_.empty() || shutdown_; });
        // Jobs queued before the shutdown still run: each closes its connection.
        if (jobs_.empty())
          return;
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      room_.notify_one();
      fn();
    }
  }

  size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable room_;
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

} // namespace

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
  svr.new_task_queue = [limits] { return new bounded_pool(limits.threads, limits.queued); };
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(limits.io_timeout);
  auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(limits.io_timeout - secs);
  svr.set_read_timeout(secs.count(), usecs.count());
  svr.set_write_timeout(secs.count(), usecs.count());
  svr.set_payload_max_length(limits.max_body);
  // One request per connection: an idle kept-alive connection would hold a thread of the
  // few there are. A scraper connects once per scrape anyway.
  svr.set_keep_alive_max_count(1);
  // cpp-httplib's default also sets SO_REUSEPORT, with which a second daemon (or anything else
  // of the same user) binds the same port and the kernel splits the scrapes between them.
  // SO_REUSEADDR alone lets a restart bind while old connections linger in TIME_WAIT.
  svr.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
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
