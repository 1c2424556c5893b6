#include "tools/fwrescue/admin_client.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "config/node_config.hpp"

namespace fwrescue::cli {

using json = nlohmann::ordered_json;

namespace {

caf::expected<std::string> socket_path(const admin_options& opts) {
  if (!opts.socket.empty())
    return opts.socket;
  if (opts.config.empty())
    return make_error(errc::invalid_argument, "give --socket PATH or --config FILE");
  auto config = load_config(opts.config);
  if (!config)
    return std::move(config.error());
  return config->admin_socket();
}

} // namespace

caf::expected<json> ask_daemon(const admin_options& opts, const std::string& command) {
  auto request = json{{"command", command}};
  if (command == "recover" && !opts.target.empty())
    request["target"] = opts.target;
  return ask_daemon(opts, request, 10000);
}

caf::expected<json> ask_daemon(const admin_options& opts, const json& request, int timeout_ms) {
  auto path = socket_path(opts);
  if (!path)
    return std::move(path.error());
  sockaddr_un addr{};
  if (path->size() >= sizeof(addr.sun_path))
    return make_error(errc::invalid_argument, fmt::format("socket path {} is too long", *path));
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path->c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    auto err = make_error(errc::io_failure,
                          fmt::format("cannot reach the daemon at {}: {} (is fwrescued running?)",
                                      *path, std::strerror(errno)));
    if (fd >= 0)
      ::close(fd);
    return err;
  }
  auto line = request.dump() + "\n";
  [[maybe_unused]] auto sent = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL);
  std::string reply;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0)
      break;
    auto n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    reply.append(buf, static_cast<size_t>(n));
    if (reply.find('\n') != std::string::npos)
      break;
  }
  ::close(fd);
  auto parsed = json::parse(reply, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return make_error(errc::malformed, fmt::format("the daemon at {} gave no valid answer", *path));
  if (!parsed.value("ok", false))
    return make_error(errc::invalid_argument, "daemon: " + parsed.value("error", "unknown error"));
  return parsed;
}

} // namespace fwrescue::cli
