#pragma once

// Helpers of the ICMB transport's tests: an emulated bus (fwrescue-icmb-bus, found through
// ICMB_BUS_PROGRAM) with one link per node in a temporary directory, and started nodes whose
// events a recorder keeps (the LAN fixture's).

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"
#include "tests/tools/icmb_bus_runner.hpp"
#include "tests/transports/lan_fixture.hpp"
#include "transports/icmb/icmb_transport.hpp"

namespace fwrescue::test::icmb_tests {

using lan_tests::bytes;
using lan_tests::recorder;
using namespace std::chrono_literals;

/// A running emulated bus with `nodes` links.
class bus {
public:
  explicit bus(int nodes, uint32_t baud = 115200, std::vector<std::string> extra = {})
    : baud_(baud), process_(args(nodes, baud, std::move(extra))) {
    REQUIRE(process_.wait_ready());
  }
  std::string link(int i) const {
    return dir_.path("node" + std::to_string(i));
  }
  uint32_t baud() const {
    return baud_;
  }
  /// The bus's counters once it has stopped: bytes, collisions, bit_flips, dropped.
  std::vector<uint64_t> stop() {
    REQUIRE(process_.stop() == 0);
    return parse_stats(process_.out());
  }
  const temp_dir& dir() const {
    return dir_;
  }

private:
  std::vector<std::string> args(int nodes, uint32_t baud, std::vector<std::string> extra) {
    std::vector<std::string> a{"--baud", std::to_string(baud)};
    for (int i = 0; i < nodes; ++i) {
      a.push_back("--link");
      a.push_back(link(i));
    }
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  uint32_t baud_;
  temp_dir dir_;
  icmb_bus_process process_;
};

/// Address of the i-th node in tests.
inline uint16_t address_of(int i) {
  return static_cast<uint16_t>(0x0010 + i);
}

inline icmb_options options(const bus& b, int i) {
  icmb_options o;
  o.device = b.link(i);
  o.baud = b.baud();
  o.address = address_of(i);
  o.node_label = "node" + std::to_string(i);
  o.warn = [](std::string_view) {};
  // Sessions both ways carry frames of any size here; the smaller bound on frames peers send
  // to us has a test of its own.
  o.limits.max_inbound_frame = icmb::max_frame;
  // A frame of 100 KiB takes 9 s at 115200 baud; the handshake bound has a test of its own.
  o.limits.handshake = 120s;
  o.limits.idle = 60s;
  return o;
}

/// A started transport and its recorder; the recorder outlives the transport's stop().
struct node {
  explicit node(icmb_options o, bool consume = true) : transport(std::move(o)) {
    if (consume)
      events.consumer = &transport;
    auto err = transport.start(events);
    INFO(describe(err));
    REQUIRE(!err);
  }
  recorder events;
  icmb_transport transport;
};

/// Opens a session from `a` to `b`; returns a's id and b's id for it.
inline std::pair<session_id, session_id> connect(node& a, node& b, size_t b_opens_before = 0) {
  auto id = a.transport.open_session(b.transport.session_address());
  REQUIRE(a.events.wait([&](auto& l) {
    for (auto& o : l.opens)
      if (o.id == id)
        return true;
    return l.reason(id) != nullptr;
  }));
  INFO(a.events.inspect([&](auto& l) { return l.reason(id) ? *l.reason(id) : std::string{}; }));
  REQUIRE(a.events.inspect([&](auto& l) { return l.reason(id) == nullptr; }));
  REQUIRE(b.events.wait([&](auto& l) { return l.opens.size() > b_opens_before; }));
  auto theirs = b.events.inspect([&](auto& l) { return l.opens.at(b_opens_before); });
  CHECK(theirs.inbound);
  CHECK(theirs.peer == a.transport.session_address());
  return {id, theirs.id};
}

/// Whether `frames` are exactly `sent`, in order (without printing megabytes on failure).
inline bool same_frames(const std::vector<bytes>& frames, const std::vector<bytes>& sent) {
  return frames == sent;
}

} // namespace fwrescue::test::icmb_tests
