// Windows and deadlines sized from a link's properties.
#include <catch2/catch.hpp>

#include "transports/link_timing.hpp"

using namespace fwrescue;
using namespace std::chrono_literals;

namespace {

link_properties at(uint64_t rate_bps) {
  link_properties p;
  p.kind = "test";
  p.max_datagram = 1400;
  p.nominal_rate_bps = rate_bps;
  return p;
}

} // namespace

TEST_CASE("a fast link keeps the configured window and deadlines") {
  auto lan = at(1'000'000'000);
  CHECK(block_window(128, lan, 4096) == 128);
  CHECK(block_timeout(2000ms, lan, 128 * 4096) == 2000ms);
  CHECK(handshake_timeout(1000ms, lan) == 1000ms);
  CHECK(discovery_window(300ms, lan) == 300ms);
}

TEST_CASE("a slow link shrinks the window and stretches the deadlines") {
  auto bus = at(19200);
  auto window = block_window(128, bus, 4096);
  CHECK(window == 2);
  // Two 4 KiB blocks take 4.27 s at 19200 baud; the donor gets three times that.
  CHECK(block_timeout(2000ms, bus, window * 4096) == 3 * 4266ms);
  CHECK(handshake_timeout(1000ms, bus) > 1000ms);
  // A request and six offers of 1400 bytes: 5.1 s at 19200 baud.
  CHECK(discovery_window(300ms, bus) == 5104ms);
  // 115200 baud moves about five 4 KiB blocks in two seconds.
  CHECK(block_window(128, at(115200), 4096) == 5);
}

TEST_CASE("an unknown rate changes nothing") {
  auto unknown = at(0);
  CHECK(block_window(64, unknown, 4096) == 64);
  CHECK(block_timeout(2000ms, unknown, 1 << 20) == 2000ms);
  CHECK(digests_per_frame(16384, unknown) == 16384);
}

TEST_CASE("block digests come in frames a slow link moves in about half a second") {
  CHECK(digests_per_frame(16384, at(19200)) == 30);
  CHECK(digests_per_frame(16384, at(1'000'000'000)) == 16384);
  CHECK(digests_per_frame(16384, at(1200)) == 16);
}

TEST_CASE("the slowest of several links sets the discovery window") {
  auto all = at(1'000'000'000);
  all.slowest_rate_bps = 19200;
  CHECK(node_discovery_window(300ms, all) == discovery_window(300ms, at(19200)));
}
