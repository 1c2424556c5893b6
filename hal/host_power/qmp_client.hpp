#pragma once

#include <chrono>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "common/unique_fd.hpp"

namespace fwrescue {

/// One conversation with a QEMU Machine Protocol (QMP) server on a unix socket: connect, read the
/// greeting, enter command mode, then run commands one at a time. Every step has the deadline
/// given at connect; events QEMU sends in between are skipped. Errors name the socket and the
/// command: "QMP socket PATH: query-status: no answer within 3000 ms".
class qmp_client {
public:
  /// Connects to `socket_path` and negotiates capabilities, all within `timeout`.
  static caf::expected<qmp_client> connect(const std::string& socket_path,
                                           std::chrono::milliseconds timeout);

  /// Runs `command` (with `arguments` when not null) and returns its "return" value, or the
  /// error QEMU answered with ("QMP socket PATH: stop: <desc>").
  caf::expected<nlohmann::json> execute(const std::string& command,
                                        const nlohmann::json& arguments = nullptr);

private:
  qmp_client(std::string path, unique_fd fd, std::chrono::milliseconds timeout);

  /// The next message that is not an event, parsed; bounded in size and by the deadline.
  caf::expected<nlohmann::json> next_message(const std::string& what);

  caf::error fail(const std::string& what, const std::string& why) const;

  std::string path_;
  unique_fd fd_;
  std::chrono::milliseconds timeout_;
  /// Bytes read past the last complete message.
  std::string pending_;
};

} // namespace fwrescue
