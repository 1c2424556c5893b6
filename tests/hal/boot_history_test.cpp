#include <catch2/catch.hpp>

#include <fstream>

#include "common/error.hpp"
#include "hal/boot_history.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

digest root_of(uint8_t b) {
  digest d{};
  d.fill(b);
  return d;
}

boot_record failed(uint8_t root) {
  return {100, root_of(root), false, "no_output", "no console output within 60 s"};
}

boot_record booted(uint8_t root) {
  return {200, root_of(root), true, "booted", "the console showed 'UEFI Interactive Shell'"};
}

} // namespace

TEST_CASE("boots are recorded and read back, oldest first, bounded") {
  test::temp_dir dir;
  boot_history h{dir.path("")};
  REQUIRE(h.records()->empty());
  REQUIRE_FALSE(h.record(failed(1)));
  REQUIRE_FALSE(h.record(booted(1)));
  auto r = h.records();
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  CHECK_FALSE((*r)[0].booted);
  CHECK((*r)[0].outcome == "no_output");
  CHECK((*r)[0].detail == "no console output within 60 s");
  CHECK((*r)[1].booted);
  CHECK((*r)[1].root == root_of(1));
  for (int i = 0; i < 40; ++i)
    REQUIRE_FALSE(h.record(failed(2)));
  CHECK(h.records()->size() == boot_history::max_boot_records);
}

TEST_CASE("failures in a row count only the latest image's failures since its last boot") {
  std::vector<boot_record> r{failed(1), failed(1), booted(1), failed(1)};
  CHECK(failures_in_a_row(r, root_of(1)) == 1);
  r.push_back(failed(1));
  CHECK(failures_in_a_row(r, root_of(1)) == 2);
  CHECK(failures_in_a_row(r, root_of(2)) == 0);
  r.push_back(failed(2));
  CHECK(failures_in_a_row(r, root_of(1)) == 0);
}

TEST_CASE("failed images are kept once each, the latest eight") {
  test::temp_dir dir;
  boot_history h{dir.path("")};
  REQUIRE_FALSE(h.add_failed_root(root_of(1)));
  REQUIRE_FALSE(h.add_failed_root(root_of(1)));
  CHECK(*h.failed_roots() == std::vector<digest>{root_of(1)});
  for (uint8_t i = 2; i < 12; ++i)
    REQUIRE_FALSE(h.add_failed_root(root_of(i)));
  auto roots = h.failed_roots();
  REQUIRE(roots->size() == boot_history::max_failed_roots);
  CHECK(roots->front() == root_of(4));
  CHECK(roots->back() == root_of(11));
}

TEST_CASE("a damaged boot history is an error naming the file, never an empty history") {
  test::temp_dir dir;
  boot_history h{dir.path("")};
  std::ofstream{dir.path("failed_roots")} << "not-hex\n";
  auto roots = h.failed_roots();
  REQUIRE_FALSE(roots);
  CHECK_THAT(describe(roots.error()), Catch::Contains("failed_roots: line 1"));
  // Nor is a record added on top of it.
  CHECK(h.add_failed_root(root_of(1)));
  std::ofstream{dir.path("boot_history")} << "12 maybe 00 x y\n";
  auto records = h.records();
  REQUIRE_FALSE(records);
  CHECK_THAT(describe(records.error()), Catch::Contains("expected 'booted' or 'failed'"));
}
