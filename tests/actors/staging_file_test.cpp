#include <catch2/catch.hpp>

#include "actors/staging_file.hpp"
#include "common/error.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

using test::read_bytes;
using test::slice;

TEST_CASE("the staging file gathers consecutive writes and never loses one") {
  test::temp_dir dir;
  auto path = dir.path("staging.img");
  auto a = test::random_bytes(4096, 1);
  auto b = test::random_bytes(4096, 2);
  auto c = test::random_bytes(4096, 3);
  auto staging = staging_file::open(path, 64 * 1024);
  REQUIRE(staging);
  auto& f = **staging;
  REQUIRE_FALSE(f.write(0, a));
  REQUIRE_FALSE(f.write(4096, b)); // continues the first: gathered
  // Reads see gathered bytes, also across the boundary with what the file holds.
  std::vector<uint8_t> back(3 * 4096);
  REQUIRE_FALSE(f.read(0, back));
  CHECK(slice(back, 0, 4096) == a);
  CHECK(slice(back, 4096, 4096) == b);
  CHECK(slice(back, 8192, 4096) == std::vector<uint8_t>(4096, 0));

  SECTION("a write elsewhere writes out what was gathered") {
    REQUIRE_FALSE(f.write(32 * 1024, c));
    auto on_disk = read_bytes(path);
    CHECK(slice(on_disk, 0, 4096) == a);
    CHECK(slice(on_disk, 4096, 4096) == b);
    REQUIRE_FALSE(f.sync());
    CHECK(slice(read_bytes(path), 32 * 1024, 4096) == c);
  }
  SECTION("closing writes out what was gathered") {
    staging->reset();
    auto on_disk = read_bytes(path);
    CHECK(on_disk.size() == 64 * 1024);
    CHECK(slice(on_disk, 4096, 4096) == b);
  }
  SECTION("a megabyte gathered is written without waiting") {
    auto big = staging_file::open(dir.path("big.img"), 2 << 20);
    REQUIRE(big);
    auto chunk = test::random_bytes(64 * 1024, 4);
    for (size_t off = 0; off < (1 << 20); off += chunk.size())
      REQUIRE_FALSE((*big)->write(off, chunk));
    CHECK(slice(read_bytes(dir.path("big.img")), (1 << 20) - chunk.size(), chunk.size()) == chunk);
  }
}

TEST_CASE("writes in place are written from where the bytes lie, together when they continue "
          "each other") {
  test::temp_dir dir;
  auto path = dir.path("staging.img");
  auto staging = staging_file::open(path, 64 * 1024);
  REQUIRE(staging);
  auto& f = **staging;
  // Two blocks next to each other in memory and in the file, then one elsewhere in both.
  auto memory = test::random_bytes(4 * 4096, 5);
  auto block = [&](size_t k) { return std::span<const uint8_t>{memory}.subspan(k * 4096, 4096); };
  REQUIRE_FALSE(f.write_in_place(0, block(0)));
  REQUIRE_FALSE(f.write_in_place(4096, block(1)));
  // Not written yet: reads see the pending bytes all the same.
  CHECK(slice(read_bytes(path), 0, 4096) == std::vector<uint8_t>(4096, 0));
  std::vector<uint8_t> back(2 * 4096);
  REQUIRE_FALSE(f.read(0, back));
  CHECK(back == slice(memory, 0, 2 * 4096));

  SECTION("a write that continues the file but not the memory writes out what is pending") {
    REQUIRE_FALSE(f.write_in_place(2 * 4096, block(3)));
    CHECK(slice(read_bytes(path), 0, 2 * 4096) == slice(memory, 0, 2 * 4096));
    REQUIRE_FALSE(f.sync());
    CHECK(slice(read_bytes(path), 2 * 4096, 4096) == slice(memory, 3 * 4096, 4096));
  }
  SECTION("a copied write after writes in place keeps both") {
    auto other = test::random_bytes(4096, 6);
    REQUIRE_FALSE(f.write(2 * 4096, other));
    REQUIRE_FALSE(f.sync());
    auto on_disk = read_bytes(path);
    CHECK(slice(on_disk, 0, 2 * 4096) == slice(memory, 0, 2 * 4096));
    CHECK(slice(on_disk, 2 * 4096, 4096) == other);
  }
  SECTION("closing writes out what is pending") {
    staging->reset();
    CHECK(slice(read_bytes(path), 0, 2 * 4096) == slice(memory, 0, 2 * 4096));
  }
}
