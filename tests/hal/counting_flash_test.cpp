// The counting flash: every successful write request counted with its bytes, failures not,
// and every call passed through unchanged.
#include <catch2/catch.hpp>

#include "hal/flash/counting.hpp"
#include "tests/fakes/fake_flash.hpp"

using namespace fwrescue;

TEST_CASE("a counting flash counts the write requests that succeed") {
  auto chip = std::make_shared<test::fake_flash>(64 * 1024);
  counting_flash counted{chip};
  std::vector<uint8_t> page(256, 0x5a);
  std::vector<uint8_t> sectors(8192, 0x11);
  REQUIRE_FALSE(counted.erase(0, 4096));
  REQUIRE_FALSE(counted.program(0, page));
  REQUIRE_FALSE(counted.program_range(256, page));
  REQUIRE_FALSE(counted.rewrite(8192, sectors));
  // A misaligned erase fails on the chip and is not counted.
  CHECK(counted.erase(1, 4096));
  auto r = counted.requests();
  CHECK(r.erases == 1);
  CHECK(r.erase_bytes == 4096);
  CHECK(r.programs == 2);
  CHECK(r.program_bytes == 512);
  CHECK(r.rewrites == 1);
  CHECK(r.rewrite_bytes == 8192);
  // What was written is on the chip, read through either.
  std::vector<uint8_t> back(8192);
  REQUIRE_FALSE(counted.read(8192, back));
  CHECK(back == sectors);
  CHECK(counted.geometry().size == chip->geometry().size);
}
