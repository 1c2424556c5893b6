#include "frontends/redfish/server.hpp"

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include <fmt/format.h>
#include <httplib.h>

#include "common/error.hpp"
#include "frontends/http/server_setup.hpp"
#include "frontends/redfish/basic_auth.hpp"
#include "frontends/redfish/errors.hpp"
#include "frontends/redfish/resources.hpp"
#include "frontends/redfish/simple_update.hpp"
#include "frontends/redfish/task_book.hpp"
#include "sources/http_location.hpp"

namespace fwrescue::redfish {

namespace {

using json = nlohmann::ordered_json;

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("OData-Version", "4.0");
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json; charset=utf-8");
}

void reply(httplib::Response& res, const error_reply& e) {
  reply(res, e.status, e.body);
}

bool unauthenticated(const std::string& path) {
  return path == "/redfish" || path == "/redfish/" || path == "/redfish/v1"
         || path == "/redfish/v1/";
}

/// `text` as a regex matching exactly it (extra routes are given as plain paths).
std::string exactly(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::string_view{"\\^$.|?*+()[]{}"}.find(c) != std::string_view::npos)
      out += '\\';
    out += c;
  }
  return out;
}

int64_t unix_now() {
  return static_cast<int64_t>(std::time(nullptr));
}

} // namespace

struct server::impl {
  impl(const node_query& n, std::shared_ptr<logger> l, server_options o)
    : node(n), log(std::move(l)), options(std::move(o)), book(options.config.tasks_kept) {
  }

  void routes();
  /// Brings the task book up to date with every target's status.
  void refresh();
  void poll();
  void simple_update(const httplib::Request& req, httplib::Response& res);
  void task_monitor(uint64_t id, httplib::Response& res);

  const node_query& node;
  std::shared_ptr<logger> log;
  server_options options;
  std::unique_ptr<basic_auth> auth;
  std::unique_ptr<httplib::SSLServer> http;
  std::thread listener;
  std::mutex book_mtx;
  task_book book;
  /// The poller looks at the targets' status every second, so recoveries the daemon starts by
  /// itself get their tasks even when no client is reading.
  std::thread poller;
  std::mutex poll_mtx;
  std::condition_variable poll_cv;
  bool stopping = false;
};

void server::impl::refresh() {
  std::vector<std::pair<uint32_t, json>> seen;
  for (uint32_t i = 0; i < node.targets().size(); ++i)
    if (auto s = node.status(i))
      seen.emplace_back(i, std::move(*s));
  std::lock_guard<std::mutex> guard{book_mtx};
  for (auto& [i, s] : seen)
    book.observe(i, node.targets()[i], s, unix_now());
}

void server::impl::poll() {
  std::unique_lock<std::mutex> lock{poll_mtx};
  while (!stopping) {
    lock.unlock();
    refresh();
    lock.lock();
    poll_cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; });
  }
}

void server::impl::simple_update(const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_simple_update(req.body, node.targets());
  if (auto* e = std::get_if<error_reply>(&parsed))
    return reply(res, *e);
  auto& r = std::get<simple_update_request>(parsed);
  auto location = make_http_image_location(options.http, r.image_uri);
  if (!location) {
    auto shown = r.image_uri.size() > 120 ? r.image_uri.substr(0, 120) + "..." : r.image_uri;
    return reply(res, action_parameter_value_format_error(shown, "ImageURI",
                                                          "UpdateService.SimpleUpdate",
                                                          describe(location.error())));
  }
  const auto& target = node.targets().at(r.target);
  auto reason = fmt::format("Redfish SimpleUpdate of {}", r.image_uri);
  auto started =
    node.recover_from(r.target, std::shared_ptr<image_location>{std::move(*location)}, reason);
  if (!started)
    return reply(res, internal_error(describe(started.error())));
  if (!started->started)
    return reply(res, resource_in_use(fmt::format("{}: {}", target, started->detail)));
  log->info("redfish", "SimpleUpdate from {} of {} with {}: {}", req.remote_addr, target,
            r.image_uri, started->detail);
  json body;
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> guard{book_mtx};
    id = book.bind(r.target, target, started->number, reason, unix_now());
    body = task(*book.find(id));
  }
  res.set_header("Location", task_monitor_uri(id));
  res.set_header("Retry-After", "1");
  reply(res, 202, body);
}

void server::impl::task_monitor(uint64_t id, httplib::Response& res) {
  refresh();
  std::lock_guard<std::mutex> guard{book_mtx};
  const auto* t = book.find(id);
  if (!t)
    return reply(res, resource_not_found(task_monitor_uri(id)));
  if (!t->finished()) {
    res.set_header("Location", task_monitor_uri(id));
    res.set_header("Retry-After", "1");
    return reply(res, 202, task(*t));
  }
  reply(res, 200, task(*t));
}

void server::impl::routes() {
  auto& s = *http;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (unauthenticated(req.path))
      return httplib::Server::HandlerResponse::Unhandled;
    auto verdict = auth->check(req.get_header_value("Authorization"), req.remote_addr,
                               std::chrono::steady_clock::now());
    if (verdict == basic_auth::verdict::allowed)
      return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Basic realm=\"fwrescue\"");
    if (verdict == basic_auth::verdict::throttled) {
      res.set_header("Retry-After", "1");
      reply(res, unauthorized("too many password checks lately; try again in a second"));
    } else {
      reply(res, unauthorized("missing or wrong credentials (HTTP Basic)"));
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty())
      return;
    if (res.status == 413)
      return reply(res, payload_too_large(size_t{options.config.max_body_kib} << 10));
    if (res.status == 404)
      return reply(res, resource_not_found(req.path.substr(0, 200)));
    reply(res,
          make_error_reply(res.status, "GeneralError", {}, fmt::format("HTTP {}", res.status)));
  });
  s.set_exception_handler(
    [this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        if (ep)
          std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      log->error("redfish", "a request failed: {}", what);
      reply(res, internal_error("the request failed inside the service"));
    });

  auto get = [&](const std::string& pattern, std::function<json(const httplib::Request&)> body) {
    s.Get(pattern, [body](const httplib::Request& req, httplib::Response& res) {
      reply(res, 200, body(req));
    });
  };
  get("/redfish/?", [](auto&) { return versions(); });
  get("/redfish/v1/?", [this](auto&) { return service_root(options.node_id); });
  get("/redfish/v1/UpdateService/?", [](auto&) { return update_service(); });
  get("/redfish/v1/UpdateService/FirmwareInventory/?",
      [this](auto&) { return inventory_collection(node.targets()); });
  s.Get("/redfish/v1/UpdateService/FirmwareInventory/([^/]+)/?",
        [this](const httplib::Request& req, httplib::Response& res) {
          auto name = req.matches[1].str();
          auto index = node.index_of(name);
          if (!index)
            return reply(res, resource_not_found(req.path.substr(0, 200)));
          auto status = node.status(*index);
          if (!status)
            return reply(res, internal_error(describe(status.error())));
          reply(res, 200, inventory_member(name, *status));
        });
  s.Post(uris::simple_update,
         [this](const httplib::Request& req, httplib::Response& res) { simple_update(req, res); });
  get("/redfish/v1/TaskService/?", [](auto&) { return task_service(); });
  get("/redfish/v1/TaskService/Tasks/?", [this](auto&) {
    refresh();
    std::lock_guard<std::mutex> guard{book_mtx};
    return task_collection(book);
  });
  auto with_id = [this](auto handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      uint64_t id = 0;
      auto text = req.matches[1].str();
      if (text.size() > 19
          || std::from_chars(text.data(), text.data() + text.size(), id).ec != std::errc{})
        return reply(res, resource_not_found(req.path.substr(0, 200)));
      handler(id, res);
    };
  };
  s.Get("/redfish/v1/TaskService/Tasks/([0-9]+)/?",
        with_id([this](uint64_t id, httplib::Response& res) {
          refresh();
          std::lock_guard<std::mutex> guard{book_mtx};
          const auto* t = book.find(id);
          if (!t)
            return reply(res, resource_not_found(fmt::format("{}/{}", uris::tasks, id)));
          reply(res, 200, task(*t));
        }));
  s.Get("/redfish/v1/TaskService/TaskMonitors/([0-9]+)/?",
        with_id([this](uint64_t id, httplib::Response& res) { task_monitor(id, res); }));
  for (const auto& [path, make] : options.extra)
    s.Get(exactly(path), [make = make](const httplib::Request&, httplib::Response& res) {
      auto r = make();
      res.status = 200;
      res.set_content(std::move(r.body), r.content_type.c_str());
    });
  // The resources take GET only (SimpleUpdate POST only): other methods get 405, not 404.
  auto refuse = [](const httplib::Request& req, httplib::Response& res) {
    reply(res, method_not_allowed(req.method, req.path.substr(0, 200)));
  };
  const std::string any = "/redfish/v1/.*";
  s.Get(uris::simple_update, refuse);
  s.Post(any, refuse);
  s.Put(any, refuse);
  s.Patch(any, refuse);
  s.Delete(any, refuse);
}

server::server(const node_query& node, std::shared_ptr<logger> log, server_options options)
  : impl_(std::make_unique<impl>(node, std::move(log), std::move(options))) {
}

server::~server() {
  stop();
}

caf::error server::start() {
  auto& m = *impl_;
  const auto& c = m.options.config;
  auto creds = credentials::load(c.credentials);
  if (!creds)
    return make_error(errc::invalid_argument, "redfish: credentials: " + describe(creds.error()));
  m.auth = std::make_unique<basic_auth>(std::move(*creds));
  std::error_code ec;
  for (const auto& [key, path] : {std::pair{"cert_file", c.cert_file}, {"key_file", c.key_file}})
    if (!std::filesystem::is_regular_file(path, ec))
      return make_error(errc::invalid_argument,
                        fmt::format("redfish: {} {} is not a readable file", key, path));
  m.http = std::make_unique<httplib::SSLServer>(c.cert_file.c_str(), c.key_file.c_str());
  if (!m.http->is_valid())
    return make_error(errc::invalid_argument,
                      fmt::format("redfish: OpenSSL refuses cert_file {} with key_file {} "
                                  "(not PEM, or the key does not match)",
                                  c.cert_file, c.key_file));
  auto threads = c.threads;
  http::bound_server(*m.http, threads, size_t{threads} * 2);
  m.http->set_read_timeout(c.timeout_s, 0);
  m.http->set_write_timeout(c.timeout_s, 0);
  m.http->set_keep_alive_timeout(2);
  m.http->set_keep_alive_max_count(32);
  m.http->set_payload_max_length(size_t{c.max_body_kib} << 10);
  m.routes();
  auto colon = c.listen.rfind(':');
  auto host = c.listen.substr(0, colon);
  int port = std::stoi(c.listen.substr(colon + 1));
  if (!m.http->bind_to_port(host, port))
    return make_error(errc::io_failure, fmt::format("redfish: cannot listen on {}: {}", c.listen,
                                                    std::strerror(errno)));
  m.listener = std::thread([&m] { m.http->listen_after_bind(); });
  m.poller = std::thread([&m] { m.poll(); });
  return caf::none;
}

void server::stop() {
  auto& m = *impl_;
  {
    std::lock_guard<std::mutex> guard{m.poll_mtx};
    m.stopping = true;
  }
  m.poll_cv.notify_all();
  if (m.poller.joinable())
    m.poller.join();
  if (m.http)
    m.http->stop();
  if (m.listener.joinable())
    m.listener.join();
}

} // namespace fwrescue::redfish
