#include "hal/host_power/qmp_client.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {
namespace {

using clock = std::chrono::steady_clock;

/// QEMU's answers to the commands we send are a few hundred bytes; a server that sends more
/// than this without a line end is not one we understand.
constexpr size_t max_message = 1 << 20;

} // namespace

caf::expected<qmp_client> qmp_client::connect(const std::string& socket_path,
                                              std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof(addr.sun_path))
    return make_error(errc::invalid_argument,
                      fmt::format("QMP socket {}: the path is longer than the {} bytes a unix "
                                  "socket allows; use a shorter node.state_dir",
                                  socket_path, sizeof(addr.sun_path) - 1));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  unique_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    return make_error(errc::io_failure, fmt::format("QMP socket {}: cannot create a socket: {}",
                                                    socket_path, std::strerror(errno)));
  // A unix stream connect completes or fails at once; it does not wait for the server.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0)
    return make_error(errc::io_failure, fmt::format("QMP socket {}: cannot connect: {}",
                                                    socket_path, std::strerror(errno)));
  qmp_client client{socket_path, std::move(fd), timeout};
  auto greeting = client.next_message("greeting");
  if (!greeting)
    return std::move(greeting.error());
  if (!greeting->contains("QMP"))
    return client.fail("greeting", "the server is not a QMP server (no \"QMP\" greeting)");
  if (auto ok = client.execute("qmp_capabilities"); !ok)
    return std::move(ok.error());
  return client;
}

qmp_client::qmp_client(std::string path, unique_fd fd, std::chrono::milliseconds timeout)
  : path_(std::move(path)), fd_(std::move(fd)), timeout_(timeout) {
}

caf::expected<nlohmann::json> qmp_client::execute(const std::string& command,
                                                  const nlohmann::json& arguments) {
  nlohmann::json request{{"execute", command}};
  if (!arguments.is_null())
    request["arguments"] = arguments;
  auto line = request.dump() + "\n";
  auto deadline = clock::now() + timeout_;
  for (size_t sent = 0; sent < line.size();) {
    auto n = ::send(fd_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return fail(command, fmt::format("cannot send: {}", std::strerror(errno)));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    pollfd p{fd_.get(), POLLOUT, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0)
      return fail(command, fmt::format("cannot send within {} ms", timeout_.count()));
  }
  auto answer = next_message(command);
  if (!answer)
    return answer;
  if (auto it = answer->find("error"); it != answer->end()) {
    auto desc = it->is_object() && it->contains("desc") && (*it)["desc"].is_string()
                  ? (*it)["desc"].get<std::string>()
                  : it->dump();
    return fail(command, desc);
  }
  if (auto it = answer->find("return"); it != answer->end())
    return *it;
  return fail(command, "the answer holds neither \"return\" nor \"error\"");
}

caf::expected<nlohmann::json> qmp_client::next_message(const std::string& what) {
  auto deadline = clock::now() + timeout_;
  for (;;) {
    // QEMU ends every message with CRLF; a message is one line of JSON.
    for (auto eol = pending_.find('\n'); eol != std::string::npos; eol = pending_.find('\n')) {
      auto line = pending_.substr(0, eol);
      pending_.erase(0, eol + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos)
        continue;
      auto msg = nlohmann::json::parse(line, nullptr, false);
      if (msg.is_discarded() || !msg.is_object())
        return fail(what, "the server sent something that is not a JSON object");
      if (msg.contains("event"))
        continue;
      return msg;
    }
    if (pending_.size() > max_message)
      return fail(what, fmt::format("a message longer than {} bytes", max_message));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    pollfd p{fd_.get(), POLLIN, 0};
    int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      return fail(what, fmt::format("no answer within {} ms", timeout_.count()));
    char buf[4096];
    auto n = ::recv(fd_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (n < 0)
      return fail(what, fmt::format("cannot read: {}", std::strerror(errno)));
    if (n == 0)
      return fail(what, "the server closed the connection");
    pending_.append(buf, static_cast<size_t>(n));
  }
}

caf::error qmp_client::fail(const std::string& what, const std::string& why) const {
  return make_error(errc::io_failure, fmt::format("QMP socket {}: {}: {}", path_, what, why));
}

} // namespace fwrescue
