// The metrics listener on loopback: GET /metrics answers the page, anything else is 404, and a
// port in use is one line naming the endpoint.
#include <catch2/catch.hpp>
#include <httplib.h>

#include "common/error.hpp"
#include "metrics/exposition.hpp"
#include "metrics/listener.hpp"

using namespace fwrescue;

TEST_CASE("GET /metrics answers the rendered page; other paths and methods are 404") {
  int scrapes = 0;
  auto listener = metrics_listener::start("127.0.0.1:0", [&] {
    ++scrapes;
    return std::string{"fwrescue_x_total 1\n"};
  });
  REQUIRE(listener);
  auto port = (*listener)->port();
  REQUIRE(port != 0);
  httplib::Client client{"127.0.0.1", port};
  client.set_connection_timeout(2);
  client.set_read_timeout(2);
  auto res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "fwrescue_x_total 1\n");
  CHECK(res->get_header_value("Content-Type") == std::string{exposition_content_type});
  CHECK(scrapes == 1);
  auto other = client.Get("/");
  REQUIRE(other);
  CHECK(other->status == 404);
  auto post = client.Post("/metrics", "x", "text/plain");
  REQUIRE(post);
  CHECK(post->status == 404);
  CHECK(scrapes == 1);
  // A body past the limit is refused before any handler sees it.
  auto big = client.Post("/metrics", std::string(64 * 1024, 'x'), "text/plain");
  REQUIRE(big);
  CHECK(big->status == 413);
  (*listener)->stop();
  (*listener)->stop(); // idempotent
  CHECK_FALSE(client.Get("/metrics"));
}

TEST_CASE("a port in use is one line naming the endpoint") {
  auto first = metrics_listener::start("127.0.0.1:0", [] { return std::string{}; });
  REQUIRE(first);
  auto endpoint = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = metrics_listener::start(endpoint, [] { return std::string{}; });
  REQUIRE_FALSE(second);
  auto line = describe(second.error());
  CHECK(line == "metrics: cannot listen on " + endpoint + ": Address already in use");
}

TEST_CASE("an endpoint that is not IPv4:port is refused") {
  auto bad = metrics_listener::start("localhost", [] { return std::string{}; });
  REQUIRE_FALSE(bad);
  CHECK(describe(bad.error()) == "metrics: 'localhost' is not an IPv4:port endpoint");
}
