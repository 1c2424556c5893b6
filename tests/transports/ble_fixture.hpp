#pragma once

// Helpers of the BLE transport's tests: nodes on the emulation, each in a directory the test
// makes, with the LAN tests' recorder of events.

#include "tests/transports/lan_fixture.hpp"
#include "transports/ble/ble_io.hpp"
#include "transports/ble/ble_transport.hpp"

namespace fwrescue::test::ble_tests {

using namespace fwrescue;
using namespace std::chrono_literals;
using lan_tests::bytes;
using lan_tests::eventually;
using lan_tests::recorder;
using lan_tests::small_frame;
using lan_tests::text;

/// An emulated node's options: its address, the emulation directory, a fast link unless the
/// test asks for the real rate, and sessions both ways carrying frames of any size.
inline ble_options options(const std::string& address, const temp_dir& dir,
                           uint64_t rate_bps = 20'000'000) {
  ble_options o;
  o.address = address;
  o.emulation = dir.path("");
  o.emulation.pop_back(); // the trailing slash
  o.emulated_rate_bps = rate_bps;
  o.limits.max_inbound_frame = ble::max_frame;
  return o;
}

/// A started transport and its recorder; the recorder outlives the transport's stop().
struct node {
  explicit node(ble_options o, bool consume = true) : transport(std::move(o)) {
    if (consume)
      events.consumer = &transport;
    auto err = transport.start(events);
    INFO(describe(err));
    REQUIRE(!err);
  }
  recorder events;
  ble_transport transport;
};

/// Opens a session from `a` to `b`; returns a's id and b's id for it. Sessions are reported
/// inbound once the channel has named its kind.
inline std::pair<session_id, session_id> connect(node& a, node& b) {
  auto id = a.transport.open_session(b.transport.session_address());
  REQUIRE(a.events.wait([&](auto& l) { return !l.opens.empty() || !l.closes.empty(); }));
  REQUIRE(b.events.wait([](auto& l) { return !l.opens.empty(); }));
  auto mine = a.events.inspect([](auto& l) { return l.opens.at(0); });
  auto theirs = b.events.inspect([](auto& l) { return l.opens.at(0); });
  CHECK(mine.id == id);
  CHECK_FALSE(mine.inbound);
  CHECK(mine.peer == b.transport.session_address());
  CHECK(theirs.inbound);
  CHECK(theirs.peer == a.transport.session_address());
  return {id, theirs.id};
}

} // namespace fwrescue::test::ble_tests
