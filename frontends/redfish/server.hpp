#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <caf/error.hpp>

#include "common/log.hpp"
#include "config/node_config.hpp"
#include "frontends/node_query.hpp"

namespace fwrescue::redfish {

/// What an extra route answers: its body and content type.
struct route_reply {
  std::string body;
  std::string content_type;
};

/// GET routes mounted beside the Redfish resources, by exact path ("/metrics"), authenticated
/// like them. Called on the server's threads.
using extra_routes = std::map<std::string, std::function<route_reply()>>;

struct server_options {
  redfish_config config;
  /// [http]'s TLS, timeout and retry settings, used for SimpleUpdate's image URLs.
  http_source_config http;
  /// The node's id, for the service root's name.
  std::string node_id;
  extra_routes extra;
};

/// The Redfish service (docs/redfish.md): HTTPS (cpp-httplib over OpenSSL) on
/// [redfish] listen, HTTP Basic authentication on every resource but /redfish and /redfish/v1,
/// the UpdateService with its FirmwareInventory and SimpleUpdate, and the TaskService with one
/// task per recovery. Reads and starts everything through node_query, as the admin socket does.
/// Bounds: [redfish] threads serve requests, a few more connections wait and the rest wait in
/// the kernel's backlog; bodies up to max_body_kib; reads and writes time out after timeout_s;
/// tasks_kept tasks; password checks as basic_auth says.
class server {
public:
  server(const node_query& node, std::shared_ptr<logger> log, server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Loads the credentials, certificate and key, binds the address and starts serving. The
  /// error is one line naming what failed ("redfish: cannot listen on 127.0.0.1:8443: …").
  caf::error start();

  /// Stops serving and joins its threads; safe to call twice.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace fwrescue::redfish
