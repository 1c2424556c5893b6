#include "frontends/admin_server.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "frontends/fleet_json.hpp"

namespace fwrescue {

namespace {

constexpr size_t max_request = 4096;
constexpr int client_timeout_ms = 5000;

std::string error_reply(const std::string& what) {
  return nlohmann::json{{"ok", false}, {"error", what}}.dump();
}

/// Reads one line (without the newline) within the deadline; empty on timeout or error.
std::string read_line(int fd) {
  std::string line;
  char buf[512];
  while (line.size() < max_request) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, client_timeout_ms) <= 0)
      return {};
    auto n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    line.append(buf, static_cast<size_t>(n));
    if (auto nl = line.find('\n'); nl != std::string::npos)
      return line.substr(0, nl);
  }
  return line;
}

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    done += static_cast<size_t>(n);
  }
}

} // namespace

admin_server::admin_server(const node_query& node, std::shared_ptr<logger> log,
                           std::function<std::string()> reload)
  : node_(node), log_(std::move(log)), reload_(std::move(reload)) {
}

admin_server::~admin_server() {
  stop();
}

caf::error admin_server::start(const std::string& path) {
  path_ = path;
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path))
    return make_error(errc::invalid_argument,
                      fmt::format("admin socket path {} is longer than {} bytes", path,
                                  sizeof(addr.sun_path) - 1));
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0)
    return make_error(errc::io_failure, fmt::format("admin socket: {}", std::strerror(errno)));
  // A socket file left by a daemon that was killed would make bind() fail.
  ::unlink(path.c_str());
  auto old_mask = ::umask(0177);
  auto rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old_mask);
  if (rc != 0 || ::listen(listen_fd_, 8) != 0)
    return make_error(errc::io_failure, fmt::format("admin socket {}: cannot listen: {}", path,
                                                    std::strerror(errno)));
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread{[this] { run(); }};
  return caf::none;
}

void admin_server::stop() {
  if (!thread_.joinable())
    return;
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
  ::unlink(path_.c_str());
}

void admin_server::run() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR)
      break;
    if (fds[1].revents != 0)
      break;
    if ((fds[0].revents & POLLIN) == 0)
      continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      // Out of descriptors or memory, the connection stays queued and the listener readable:
      // wait a little (still hearing stop) rather than spin on it.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        ::poll(&fds[1], 1, 100);
      continue;
    }
    auto reply = handle(read_line(client)) + "\n";
    write_all(client, reply);
    ::close(client);
  }
}

std::string admin_server::fleet(const nlohmann::json& request) {
  // "wait_ms": how long to collect answers; absent or 0, the node's discovery window.
  uint64_t wait_ms = 0;
  if (request.contains("wait_ms")) {
    const auto& w = request["wait_ms"];
    if (!w.is_number_unsigned() || w.get<uint64_t>() > 10000)
      return error_reply("\"wait_ms\" must be a whole number of milliseconds from 0 to 10000");
    wait_ms = w.get<uint64_t>();
  }
  auto report = node_.fleet(std::chrono::milliseconds(wait_ms));
  if (!report)
    return error_reply(describe(report.error()));
  return nlohmann::ordered_json{{"ok", true}, {"fleet", fleet_json(*report)}}.dump();
}

std::string admin_server::handle(const std::string& line) {
  auto request = nlohmann::json::parse(line, nullptr, false);
  if (request.is_discarded() || !request.is_object() || !request.contains("command")
      || !request["command"].is_string())
    return error_reply(
      "expected one line of JSON: {\"command\":\"status\"|\"recover\"|\"reload\"|\"fleet\"}");
  auto command = request["command"].get<std::string>();
  if (command == "reload") {
    auto answer = reload_();
    if (answer.rfind("refused: ", 0) == 0)
      return error_reply(answer);
    return nlohmann::ordered_json{{"ok", true}, {"message", answer}}.dump();
  }
  if (command == "status") {
    auto status = node_.node_status();
    if (!status)
      return error_reply(describe(status.error()));
    return nlohmann::ordered_json{{"ok", true}, {"status", std::move(*status)}}.dump();
  }
  if (command == "fleet")
    return fleet(request);
  if (command != "recover")
    return error_reply(
      fmt::format("unknown command '{}' (known: status, recover, reload, fleet)", command));
  // A recover names its target ("target": NAME); without one it is the first target's.
  uint32_t index = 0;
  if (request.contains("target")) {
    if (!request["target"].is_string())
      return error_reply("\"target\" must be a target's name");
    auto name = request["target"].get<std::string>();
    auto found = node_.index_of(name);
    if (!found)
      return error_reply(node_.unknown_target(name));
    index = *found;
  }
  auto answer = node_.recover(index);
  if (!answer)
    return error_reply(describe(answer.error()));
  log_->info("admin", "operator: {}{} -> {}", command,
             index == 0 ? std::string{} : " " + node_.targets().at(index), *answer);
  return nlohmann::json{{"ok", true}, {"message", *answer}}.dump();
}

} // namespace fwrescue
