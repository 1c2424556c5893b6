#include "tools/fwrescued/service_notify.hpp"

#include <algorithm>

#include <caf/scoped_actor.hpp>
#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include "actors/node_context.hpp"
#include "common/error.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

namespace {

/// STATUS= takes one line: a newline would start another assignment.
std::string one_line(std::string_view text) {
  std::string out{text};
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

} // namespace

void systemd_notify_sink::send(const std::string& state) {
  // 0: keep $NOTIFY_SOCKET, every later notification needs it. A failure to send is not an
  // error of ours: systemd then reports the service as not ready, or restarts it.
  sd_notify(0, state.c_str());
}

void notify_ready(notify_sink& sink, std::string_view status) {
  sink.send("READY=1\nSTATUS=" + one_line(status));
}

void notify_reloading(notify_sink& sink) {
  sink.send("RELOADING=1\nSTATUS=reloading the configuration");
}

void notify_stopping(notify_sink& sink) {
  sink.send("STOPPING=1\nSTATUS=shutting down");
}

std::chrono::microseconds watchdog_interval() {
  uint64_t usec = 0;
  // 0: keep $WATCHDOG_USEC and $WATCHDOG_PID; it also checks that the PID is ours, so a child
  // that inherits them does not take the watchdog for its own.
  if (sd_watchdog_enabled(0, &usec) <= 0)
    return std::chrono::microseconds{0};
  return std::chrono::microseconds{usec};
}

watchdog_keeper::watchdog_keeper(notify_sink& sink, liveness_probe probe,
                                 std::chrono::milliseconds period, std::shared_ptr<logger> log)
  : sink_(sink), probe_(std::move(probe)), period_(period), log_(std::move(log)) {
  thread_ = std::thread{[this] { run(); }};
}

watchdog_keeper::~watchdog_keeper() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void watchdog_keeper::run() {
  std::unique_lock<std::mutex> lock{mtx_};
  while (!stopping_) {
    lock.unlock();
    auto missed = probe_();
    if (!missed)
      sink_.send("WATCHDOG=1");
    else
      log_->warn("watchdog", "no keep-alive for systemd: {}", describe(missed));
    lock.lock();
    auto wait = missed ? std::max(period_ / 4, std::chrono::milliseconds{1}) : period_;
    wake_.wait_for(lock, wait, [this] { return stopping_; });
  }
}

liveness_probe actor_probe(caf::actor_system& sys, caf::actor supervisor,
                           std::vector<std::string> targets, std::chrono::milliseconds deadline) {
  return [&sys, supervisor, targets, deadline]() -> caf::error {
    caf::scoped_actor self{sys};
    auto until = std::chrono::steady_clock::now() + deadline;
    // What is left of the one deadline: the probe as a whole must fit in it.
    auto left = [until] {
      auto rest = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
      return std::max(rest, std::chrono::milliseconds{1});
    };
    caf::error missed;
    bool holding = false;
    // A timed-out request is answered by CAF's clock thread, not the scheduler, so a wedged
    // scheduler still ends the wait.
    self->request(supervisor, left(), hold_atom::value)
      .receive([&](bool hold) { holding = hold; },
               [&](caf::error& err) {
                 missed = make_error(errc::io_failure,
                                     fmt::format("the supervisor did not answer within {} ms: {}",
                                                 deadline.count(), describe(err)));
               });
    if (missed || holding)
      return missed;
    for (uint32_t i = 0; i < targets.size(); ++i) {
      auto coord = find_role(sys, role_of(roles::coordinator, i));
      if (!coord)
        return make_error(errc::io_failure,
                          fmt::format("the coordinator of {} is not running", targets[i]));
      self->request(coord, left(), ping_atom::value)
        .receive([](ping_atom) {},
                 [&](caf::error& err) {
                   missed = make_error(errc::io_failure,
                                       fmt::format("the coordinator of {} did not answer within "
                                                   "{} ms: {}",
                                                   targets[i], deadline.count(), describe(err)));
                 });
      if (missed)
        return missed;
    }
    return caf::none;
  };
}

std::unique_ptr<watchdog_keeper> keep_watchdog(notify_sink& sink, caf::actor_system& sys,
                                               caf::actor supervisor,
                                               std::vector<std::string> targets,
                                               std::shared_ptr<logger> log) {
  using std::chrono::milliseconds;
  auto interval = std::chrono::duration_cast<milliseconds>(watchdog_interval());
  if (interval.count() == 0)
    return nullptr;
  // Half the interval between keep-alives, as sd_watchdog_enabled(3) advises; a probe that
  // takes longer than a quarter would leave too little of it.
  auto period = std::max(interval / 2, milliseconds{1});
  auto deadline = std::clamp(interval / 4, milliseconds{1}, milliseconds{5000});
  log->info("watchdog", "systemd watchdog every {} ms: the actors are asked every {} ms",
            interval.count(), period.count());
  return std::make_unique<watchdog_keeper>(
    sink, actor_probe(sys, std::move(supervisor), std::move(targets), deadline), period, log);
}

} // namespace fwrescue
