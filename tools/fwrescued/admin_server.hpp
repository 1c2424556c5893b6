#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "common/log.hpp"

namespace fwrescue {

/// The local endpoint `fwrescue status` and `fwrescue recover` talk to: a Unix stream socket
/// (mode 0600, so only the BMC's administrator reaches it). One request per connection, one
/// line of JSON each way:
///   -> {"command":"status"}            <- {"ok":true,"status":{...}}
///   -> {"command":"recover"}           <- {"ok":true,"message":"recovery started"}
///   -> {"command":"reload"}            <- {"ok":true,"message":"configuration reloaded …"}
///                                         or {"ok":false,"error":"refused: …"}
///   anything else                      <- {"ok":false,"error":"..."}
/// Requests are answered by the coordinator actor; docs/operations.md has the details.
class admin_server {
public:
  /// `reload` re-reads the configuration and returns one line saying what happened.
  /// `targets`: the node's firmware targets' names, by index.
  admin_server(caf::actor_system& sys, std::shared_ptr<logger> log,
               std::function<std::string()> reload, std::vector<std::string> targets = {"bios"});
  ~admin_server();

  /// Binds the socket (replacing a stale one) and starts the accept thread.
  caf::error start(const std::string& path);
  void stop();

private:
  void run();
  std::string handle(const std::string& line);

  caf::actor_system& sys_;
  std::shared_ptr<logger> log_;
  std::function<std::string()> reload_;
  std::vector<std::string> targets_;
  std::string path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

} // namespace fwrescue
