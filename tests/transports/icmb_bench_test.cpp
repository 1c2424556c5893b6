// How close a bulk one-way session stream over the emulated ICMB comes to the wire: the time
// against payload × 10 bits / baud, and the bytes on the bus against the payload. Printed, not
// asserted: timing belongs to benchmarks, and this machine's load moves it.

#include "tests/transports/icmb_fixture.hpp"

#include <cstdio>

using namespace fwrescue;
using namespace fwrescue::test;
using namespace fwrescue::test::icmb_tests;

TEST_CASE("icmb efficiency: a bulk one-way stream at 115200 baud on an ideal bus") {
  bus b{2, 115200};
  node n0{options(b, 0)}, n1{options(b, 1)};
  auto [id0, id1] = connect(n0, n1);
  const size_t frame_size = 64 * 1024;
  const int count = 4;
  size_t payload = 0;
  auto before0 = n0.transport.stats();
  auto before1 = n1.transport.stats();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    n0.transport.send_frame(id0, random_bytes(frame_size, static_cast<uint64_t>(i)));
    payload += frame_size;
  }
  REQUIRE(n1.events.wait([&](auto& l) { return l.frames[id1].size() == count; }, 120s));
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto s0 = n0.transport.stats();
  auto s1 = n1.transport.stats();
  auto on_bus =
    (s0.bytes_written - before0.bytes_written) + (s1.bytes_written - before1.bytes_written);
  auto floor = static_cast<double>(payload) * 10 / b.baud();
  std::printf("icmb bulk 115200: %zu payload bytes in %.2f s, wire floor %.2f s: %.3fx time "
              "(%.1f %% of the raw rate); %llu bytes on the bus: %.3fx; %llu collisions, %llu "
              "retransmissions, %llu frames sent\n",
              payload, elapsed, floor, elapsed / floor, 100 * floor / elapsed,
              static_cast<unsigned long long>(on_bus), static_cast<double>(on_bus) / payload,
              static_cast<unsigned long long>(s0.collisions + s1.collisions),
              static_cast<unsigned long long>(s0.retransmissions + s1.retransmissions),
              static_cast<unsigned long long>(s0.frames_sent + s1.frames_sent));
  CHECK(elapsed >= floor); // physics: the bus carries at most baud/10 bytes a second
}
