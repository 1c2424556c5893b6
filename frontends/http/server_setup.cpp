#include "frontends/http/server_setup.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include <httplib.h>

namespace fwrescue::http {

namespace {

class bounded_pool : public httplib::TaskQueue {
public:
  bounded_pool(size_t threads, size_t max_waiting) : max_waiting_(max_waiting) {
    for (size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] { work(); });
  }

  void enqueue(std::function<void()> fn) override {
    {
      std::unique_lock<std::mutex> lock{mtx_};
      room_.wait(lock, [&] { return jobs_.size() < max_waiting_ || shutdown_; });
      // After shutdown the job still runs (the workers drain the queue): it closes its socket.
      jobs_.push_back(std::move(fn));
    }
    ready_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
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
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock{mtx_};
        ready_.wait(lock, [&] { return !jobs_.empty() || shutdown_; });
        if (jobs_.empty())
          return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      room_.notify_one();
      job();
    }
  }

  size_t max_waiting_;
  std::mutex mtx_;
  std::condition_variable ready_;
  std::condition_variable room_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool shutdown_ = false;
};

} // namespace

void bound_server(httplib::Server& server, size_t threads, size_t max_waiting) {
  server.new_task_queue = [threads, max_waiting] { return new bounded_pool(threads, max_waiting); };
  server.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
}

} // namespace fwrescue::http
