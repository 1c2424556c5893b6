#pragma once

// What the daemon tells systemd (sd_notify(3)): readiness, reloads, shutdown, a one-line status,
// and the watchdog's keep-alives, sent only while the actors still answer. docs/service.md
// describes the unit these serve.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include "common/log.hpp"

namespace fwrescue {

/// Where service state goes: systemd's notify socket, or a test's record.
class notify_sink {
public:
  virtual ~notify_sink() = default;
  /// Sends newline-separated assignments ("READY=1\nSTATUS=...") as one notification.
  virtual void send(const std::string& state) = 0;
};

/// sd_notify(3) over $NOTIFY_SOCKET; nothing at all when the daemon was not started by systemd
/// with Type=notify (the variable is unset).
class systemd_notify_sink final : public notify_sink {
public:
  void send(const std::string& state) override;
};

/// READY=1 with `status`: the links, the actors and the admin socket are up (and again after a
/// reload, with the reload's outcome).
void notify_ready(notify_sink& sink, std::string_view status);
/// RELOADING=1: a reload is under way; READY=1 follows when it is over, refused or not.
void notify_reloading(notify_sink& sink);
/// STOPPING=1: the daemon is shutting down.
void notify_stopping(notify_sink& sink);

/// The watchdog interval systemd asked for (WatchdogSec, passed as $WATCHDOG_USEC to this
/// process), or zero when it asked for none.
std::chrono::microseconds watchdog_interval();

/// Asks the actors for a sign of life; none when everyone asked answered in time, else an
/// error naming who did not.
using liveness_probe = std::function<caf::error()>;

/// A thread that runs `probe` every `period` and sends WATCHDOG=1 after each probe that
/// passes. A failed probe sends nothing and is logged; it is tried again after a quarter period,
/// so that one coordinator being restarted at the wrong moment does not cost the keep-alive.
/// While the probes keep failing systemd hears nothing and, after WatchdogSec, restarts the
/// daemon.
class watchdog_keeper {
public:
  watchdog_keeper(notify_sink& sink, liveness_probe probe, std::chrono::milliseconds period,
                  std::shared_ptr<logger> log);
  /// Stops the thread.
  ~watchdog_keeper();

  watchdog_keeper(const watchdog_keeper&) = delete;
  watchdog_keeper& operator=(const watchdog_keeper&) = delete;

private:
  void run();

  notify_sink& sink_;
  liveness_probe probe_;
  std::chrono::milliseconds period_;
  std::shared_ptr<logger> log_;
  std::mutex mtx_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

/// The daemon's probe: the supervisor (its answer to `safehold`) and then every target's
/// coordinator (`ping`), all within `deadline`. The detached actors that block on flash I/O or
/// the network (flasher, monitor, boot watch, fetch) are not asked: a long erase is no hang.
/// In safe hold only the supervisor is asked: a role that died in the restart storm stays down
/// by design, and a restart by systemd would lift the hold that only an operator may lift.
/// `targets`: the targets' names, by index.
liveness_probe actor_probe(caf::actor_system& sys, caf::actor supervisor,
                           std::vector<std::string> targets, std::chrono::milliseconds deadline);

/// A keeper for the daemon when systemd asked for a watchdog: probing every half interval,
/// each probe within a quarter interval (at most 5 s). Null when it asked for none.
std::unique_ptr<watchdog_keeper> keep_watchdog(notify_sink& sink, caf::actor_system& sys,
                                               caf::actor supervisor,
                                               std::vector<std::string> targets,
                                               std::shared_ptr<logger> log);

} // namespace fwrescue
