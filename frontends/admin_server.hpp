#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "frontends/node_query.hpp"

namespace fwrescue {

/// The local endpoint `fwrescue status` and `fwrescue recover` talk to: a Unix stream socket
/// (mode 0600, so only the BMC's administrator reaches it). One request per connection, one
/// line of JSON each way:
///   -> {"command":"status"}            <- {"ok":true,"status":{...}}
///   -> {"command":"recover"}           <- {"ok":true,"message":"recovery started"}
///   -> {"command":"reload"}            <- {"ok":true,"message":"configuration reloaded …"}
///                                         or {"ok":false,"error":"refused: …"}
///   -> {"command":"fleet","wait_ms":N} <- {"ok":true,"fleet":{...}} (docs/fleet.md); the
///                                         socket answers nothing else until the window ends
///   anything else                      <- {"ok":false,"error":"..."}
/// Requests are answered by the coordinator actors (through node_query); docs/operations.md has
/// the details.
class admin_server {
public:
  /// `reload` re-reads the configuration and returns one line saying what happened.
  admin_server(const node_query& node, std::shared_ptr<logger> log,
               std::function<std::string()> reload);
  ~admin_server();

  /// Binds the socket (replacing a stale one) and starts the accept thread.
  caf::error start(const std::string& path);
  void stop();

private:
  void run();
  std::string handle(const std::string& line);
  std::string fleet(const nlohmann::json& request);

  const node_query& node_;
  std::shared_ptr<logger> log_;
  std::function<std::string()> reload_;
  std::string path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

} // namespace fwrescue
