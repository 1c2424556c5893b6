#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "tools/icmb-bus/bus.hpp"

using icmb_bus::bus;

namespace {

std::vector<uint8_t> bytes(std::initializer_list<uint8_t> b) {
  return b;
}

// Runs slots from `first` until nobody has anything left to send.
void run_until_idle(bus& b, uint64_t first = 0) {
  for (auto slot = first; !b.idle(); ++slot)
    b.run_slot(slot);
}

} // namespace

TEST_CASE("a byte sent alone reaches every node, the sender too") {
  bus b(3, 0.0, 1);
  b.queue(1, bytes({0x12, 0x34}), 0);
  run_until_idle(b);
  for (size_t i = 0; i < 3; ++i)
    CHECK(b.rx(i) == bytes({0x12, 0x34}));
  CHECK(b.counters().bytes == 2);
  CHECK(b.counters().collisions == 0);
}

TEST_CASE("two nodes sending in one slot garble it for everyone and use up both bytes") {
  bus b(3, 0.0, 1);
  for (int round = 0; round < 200; ++round) {
    b.queue(0, bytes({0x55}), 0);
    b.queue(1, bytes({0xaa}), 0);
    b.run_slot(0);
    REQUIRE(b.idle());
    REQUIRE(b.rx(0).size() == 1);
    CHECK(b.rx(0)[0] != 0x55);
    CHECK(b.rx(0)[0] != 0xaa);
    CHECK(b.rx(1) == b.rx(0));
    CHECK(b.rx(2) == b.rx(0));
    for (size_t i = 0; i < 3; ++i)
      b.rx(i).clear();
  }
  CHECK(b.counters().collisions == 200);
  CHECK(b.counters().bytes == 0);
}

TEST_CASE("one byte per slot leaves each queue, so a long write takes one slot per byte") {
  bus b(2, 0.0, 1);
  b.queue(0, std::vector<uint8_t>(10, 7), 0);
  for (uint64_t slot = 0; slot < 10; ++slot) {
    b.run_slot(slot);
    CHECK(b.rx(1).size() == slot + 1);
  }
  CHECK(b.idle());
}

TEST_CASE("bytes never leave before the slot that follows their arrival") {
  bus b(2, 0.0, 1);
  b.queue(0, bytes({1, 2}), 5);
  for (uint64_t slot = 0; slot < 5; ++slot)
    b.run_slot(slot);
  CHECK(b.rx(1).empty());
  b.run_slot(5);
  CHECK(b.rx(1) == bytes({1}));
}

TEST_CASE("a node's transmit queue is bounded") {
  bus b(2, 0.0, 1);
  CHECK(b.tx_room(0) == bus::tx_limit);
  b.queue(0, std::vector<uint8_t>(bus::tx_limit, 0), 0);
  CHECK(b.tx_room(0) == 0);
  CHECK(b.tx_room(1) == bus::tx_limit);
}

TEST_CASE("bytes beyond a node's receive bound are dropped and counted") {
  bus b(2, 0.0, 1);
  for (size_t sent = 0; sent < bus::rx_limit + 10; sent += bus::tx_limit) {
    b.queue(0, std::vector<uint8_t>(bus::tx_limit, 0), 0);
    run_until_idle(b);
  }
  CHECK(b.rx(1).size() == bus::rx_limit);
  CHECK(b.counters().dropped > 0);
}

namespace {

std::vector<uint8_t> noisy_run(uint64_t seed, double rate, uint64_t* flips) {
  bus b(2, rate, seed);
  std::vector<uint8_t> seen;
  for (int chunk = 0; chunk < 25; ++chunk) {
    b.queue(0, std::vector<uint8_t>(bus::tx_limit, 0), 0);
    run_until_idle(b);
    seen.insert(seen.end(), b.rx(1).begin(), b.rx(1).end());
    b.rx(0).clear();
    b.rx(1).clear();
  }
  *flips = b.counters().bit_flips;
  return seen;
}

} // namespace

TEST_CASE("a bit-error rate flips about its share of bits, the same ones for the same seed") {
  uint64_t flips = 0;
  auto seen = noisy_run(7, 0.01, &flips);
  uint64_t ones = 0;
  for (auto byte : seen)
    ones += static_cast<uint64_t>(__builtin_popcount(byte));
  // 819200 bits at 1%: 8192 expected, standard deviation about 90.
  CHECK(ones == flips);
  CHECK(flips > 7000);
  CHECK(flips < 9500);
  uint64_t again = 0;
  CHECK(noisy_run(7, 0.01, &again) == seen);
  uint64_t other = 0;
  CHECK(noisy_run(8, 0.01, &other) != seen);
  uint64_t none = 0;
  noisy_run(7, 0.0, &none);
  CHECK(none == 0);
}

TEST_CASE("the stats line has the agreed form") {
  icmb_bus::bus_counters c{1, 2, 3, 4};
  CHECK(icmb_bus::render(c) == "bytes 1 collisions 2 bit_flips 3 dropped 4");
}
