#include "common/progress_meter.hpp"

#include <catch2/catch.hpp>

using namespace fwrescue;
using namespace std::chrono_literals;

namespace {
const auto t0 = progress_meter::clock::time_point{} + 1h;
}

TEST_CASE("progress_meter: bytes follow the units and stop at the image's size") {
  progress_meter m;
  m.report(3, 10, 4096, t0, 10 * 4096 - 100);
  auto r = m.read(t0);
  CHECK(r.done == 3);
  CHECK(r.total == 10);
  CHECK(r.bytes_done == 3 * 4096);
  CHECK(r.bytes_total == 10 * 4096 - 100);
  m.report(10, 10, 4096, t0 + 1s, 10 * 4096 - 100);
  CHECK(m.read(t0 + 1s).bytes_done == 10 * 4096 - 100);
}

TEST_CASE("progress_meter: no rate until reports span half a second") {
  progress_meter m;
  m.report(0, 100, 1000, t0);
  m.report(10, 100, 1000, t0 + 200ms);
  CHECK_FALSE(m.read(t0 + 300ms).rate_bytes_per_s);
  CHECK_FALSE(m.read(t0 + 300ms).seconds_left);
}

TEST_CASE("progress_meter: the rate leaves out what the first report found done") {
  progress_meter m;
  // 80 of 100 units were already there; then 10 units in 2 s.
  m.report(80, 100, 1000, t0);
  m.report(90, 100, 1000, t0 + 2s);
  auto r = m.read(t0 + 2s);
  REQUIRE(r.rate_bytes_per_s);
  CHECK(*r.rate_bytes_per_s == Approx(5000));
  REQUIRE(r.seconds_left);
  CHECK(*r.seconds_left == Approx(2.0));
}

TEST_CASE("progress_meter: a job whose reports stop shows its rate falling") {
  progress_meter m;
  m.report(0, 100, 1000, t0);
  m.report(10, 100, 1000, t0 + 1s);
  auto moving = m.read(t0 + 1s).rate_bytes_per_s;
  auto stalled = m.read(t0 + 5s).rate_bytes_per_s;
  REQUIRE(moving);
  REQUIRE(stalled);
  CHECK(*stalled < *moving / 4);
}

TEST_CASE("progress_meter: the rate looks only at the last seconds") {
  progress_meter m;
  // Fast for 20 s, then slow for 12 s: the rate is the slow one.
  uint64_t done = 0;
  auto at = t0;
  for (int i = 0; i < 20; ++i, at += 1s)
    m.report(done += 100, 100000, 1000, at);
  for (int i = 0; i < 12; ++i, at += 1s)
    m.report(done += 1, 100000, 1000, at);
  auto r = m.read(at - 1s);
  REQUIRE(r.rate_bytes_per_s);
  CHECK(*r.rate_bytes_per_s < 1500);
}

TEST_CASE("progress_meter: many reports keep few samples, and reset forgets them") {
  progress_meter m;
  for (int i = 0; i < 100000; ++i)
    m.report(i, 100000, 1, t0 + std::chrono::milliseconds(i));
  auto r = m.read(t0 + 100s);
  REQUIRE(r.rate_bytes_per_s);
  m.reset();
  CHECK(m.empty());
  CHECK(m.read(t0).bytes_total == 0);
}
