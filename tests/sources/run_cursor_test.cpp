// The cursor through which every transfer of a read hands bytes on: runs only, in order, and
// each byte once however the transfers overlap.

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "sources/run_cursor.hpp"

using namespace fwrescue;

namespace {

struct piece {
  uint64_t offset;
  std::vector<uint8_t> bytes;
  friend bool operator==(const piece&, const piece&) = default;
};

/// Bytes whose value is their offset (mod 256), so a piece shows where it came from.
std::vector<uint8_t> image_bytes(uint64_t from, uint64_t n) {
  std::vector<uint8_t> v(n);
  for (uint64_t i = 0; i < n; ++i)
    v[i] = static_cast<uint8_t>(from + i);
  return v;
}

} // namespace

TEST_CASE("a whole image hands the sink only the runs, across piece edges", "[unit]") {
  std::vector<byte_run> runs{{10, 5}, {20, 10}, {40, 1}};
  run_cursor cursor{runs};
  std::vector<piece> got;
  auto sink = [&](uint64_t offset, std::span<const uint8_t> b) -> caf::error {
    got.push_back({offset, {b.begin(), b.end()}});
    return {};
  };
  // Pieces of 7 bytes from 0, as a body arrives.
  for (uint64_t at = 0; !cursor.done(); at += 7)
    REQUIRE_FALSE(cursor.deliver(at, image_bytes(at, 7), sink));
  CHECK(got
        == std::vector<piece>{{10, image_bytes(10, 4)},
                              {14, image_bytes(14, 1)},
                              {20, image_bytes(20, 1)},
                              {21, image_bytes(21, 7)},
                              {28, image_bytes(28, 2)},
                              {40, image_bytes(40, 1)}});
}

TEST_CASE("bytes already handed on are not handed on again", "[unit]") {
  std::vector<byte_run> runs{{0, 100}};
  run_cursor cursor{runs};
  uint64_t handed = 0;
  auto sink = [&](uint64_t offset, std::span<const uint8_t> b) -> caf::error {
    CHECK(offset == handed);
    handed += b.size();
    return {};
  };
  REQUIRE_FALSE(cursor.deliver(0, image_bytes(0, 60), sink));
  CHECK(cursor.next() == 60);
  // A whole-image retry starts from 0 again.
  REQUIRE_FALSE(cursor.deliver(0, image_bytes(0, 80), sink));
  REQUIRE_FALSE(cursor.deliver(80, image_bytes(80, 50), sink));
  CHECK(handed == 100);
  CHECK(cursor.done());
}

TEST_CASE("a gap before the owed byte is refused rather than lost", "[unit]") {
  std::vector<byte_run> runs{{0, 100}};
  run_cursor cursor{runs};
  auto sink = [](uint64_t, std::span<const uint8_t>) { return caf::error{}; };
  auto err = cursor.deliver(10, image_bytes(10, 5), sink);
  CHECK(has_code(err, errc::invalid_argument));
  CHECK(cursor.next() == 0);
}

TEST_CASE("the sink's error stops delivery and comes back as is", "[unit]") {
  std::vector<byte_run> runs{{0, 4}, {8, 4}};
  run_cursor cursor{runs};
  int calls = 0;
  auto sink = [&](uint64_t, std::span<const uint8_t>) -> caf::error {
    if (++calls == 2)
      return make_error(errc::content_mismatch, "block 2 is not what the manifest says");
    return {};
  };
  auto err = cursor.deliver(0, image_bytes(0, 16), sink);
  CHECK(describe(err) == "block 2 is not what the manifest says");
  CHECK(calls == 2);
  CHECK(cursor.next() == 8);
}

TEST_CASE("empty runs owe nothing", "[unit]") {
  std::vector<byte_run> none{{5, 0}};
  CHECK(run_cursor{none}.done());
  std::vector<byte_run> runs{{0, 0}, {3, 2}, {9, 0}};
  run_cursor cursor{runs};
  CHECK(cursor.next() == 3);
  REQUIRE_FALSE(cursor.deliver(3, image_bytes(3, 2), [](uint64_t, auto) { return caf::error{}; }));
  CHECK(cursor.done());
}
