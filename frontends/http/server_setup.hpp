#pragma once

// What every HTTP listener of the daemon (Redfish, metrics) sets on its cpp-httplib server so
// that a client cannot make it spend without bound.

#include <cstddef>

namespace httplib {
class Server;
}

namespace fwrescue::http {

/// Gives `server` a pool of `threads` workers holding at most `max_waiting` accepted connections
/// (httplib's own pool queues every one; past the bound the accepting thread waits and further
/// connections wait in the kernel's small backlog, costing no descriptor here), and binds with
/// SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which lets any other process of
/// the same user bind the same port and take a share of the connections, credentials included.
void bound_server(httplib::Server& server, size_t threads, size_t max_waiting);

} // namespace fwrescue::http
