#include "tests/actors/actor_fixture.hpp"

#include <utility>

#include "actors/flash_plan.hpp"
#include "actors/flasher.hpp"

using namespace fwrescue;
using namespace fwrescue::test;

namespace {

constexpr uint64_t sector = 4096;

/// A 32 KiB image (8 sectors) on a chip with 16 KiB erase blocks (4 sectors) whose times make a
/// block erase pay from 2 differing sectors of random content on: 2 x (45 + 16 x 0.7) ms =
/// 112.4 ms against 60 + 64 x 0.7 = 104.8 ms.
struct block_fixture : actor_fixture {
  test_image img = image(32 * 1024, 1, 7);
  flash_job job{img.manifest, "donor-a"};
  std::vector<std::pair<uint64_t, uint64_t>> erases;

  block_fixture() {
    chip->set_timing(4 * sector, 45000, 60000, 700);
    write_bytes(store->staging_path(), img.bytes);
    std::copy(img.bytes.begin(), img.bytes.end(), chip->cells().begin());
    chip->after_erase = [this](uint64_t offset, uint64_t length) {
      erases.emplace_back(offset, length);
    };
    REQUIRE_FALSE(chip->set_write_protect(true));
  }

  void damage_sector(uint64_t s) {
    chip->cells()[s * sector + 123] ^= 0x01;
  }

  /// The transfer staged the blocks (1 KiB each) of `sectors`, and job.staged says so.
  void staged_sectors(std::initializer_list<uint64_t> sectors) {
    job.staged.assign(img.manifest.fields.block_count(), false);
    for (auto s : sectors)
      for (auto i = s * 4; i < s * 4 + 4; ++i)
        job.staged[i] = true;
  }

  caf::expected<flash_plan> plan() {
    auto staging = staging_file::open(store->staging_path(), job.target.fields.image_size);
    REQUIRE(staging);
    return plan_writes(*chip, **staging, job);
  }

  caf::expected<flash_done> flash() {
    auto staging = staging_file::open(store->staging_path(), job.target.fields.image_size);
    REQUIRE(staging);
    return flash_image(*ctx, job, **staging, {});
  }

  std::vector<uint8_t> flash_image_bytes() const {
    return {chip->cells().begin(),
            chip->cells().begin() + static_cast<ptrdiff_t>(img.bytes.size())};
  }
};

} // namespace

TEST_CASE_METHOD(block_fixture, "a block where erasing it whole costs less is rewritten whole") {
  damage_sector(0);
  damage_sector(2);
  damage_sector(5);
  auto p = plan();
  REQUIRE(p);
  REQUIRE(p->runs.size() == 2);
  CHECK(p->runs[0].first_sector == 0);
  CHECK(p->runs[0].sector_count == 4);
  CHECK(p->runs[1].first_sector == 5);
  CHECK(p->runs[1].sector_count == 1);
  auto done = flash();
  REQUIRE(done);
  CHECK(done->sectors_written == 5);
  CHECK(erases
        == std::vector<std::pair<uint64_t, uint64_t>>{{0, 4 * sector}, {5 * sector, sector}});
  CHECK(flash_image_bytes() == img.bytes);
}

TEST_CASE_METHOD(block_fixture, "with a known staged list, the rest of a block is read and "
                                "checked where a block erase may pay") {
  damage_sector(1);
  damage_sector(3);
  damage_sector(6);
  staged_sectors({1, 3, 6});
  auto p = plan();
  REQUIRE(p);
  REQUIRE(p->runs.size() == 2);
  CHECK(p->runs[0].first_sector == 0);
  CHECK(p->runs[0].sector_count == 4);
  CHECK(p->runs[1].first_sector == 6);
  CHECK(p->runs[1].sector_count == 1);
  // Blocks of the unchanged sectors 0 and 2 are the flash's own, staged before the erase.
  CHECK(p->from_flash == std::vector<uint64_t>{0, 1, 2, 3, 8, 9, 10, 11});
  auto done = flash();
  REQUIRE(done);
  CHECK(flash_image_bytes() == img.bytes);
}

TEST_CASE_METHOD(block_fixture, "a block whose flash copy no longer verifies stops the plan") {
  // Sector 2 is not staged, so it must be the flash's; it no longer matches the image.
  damage_sector(0);
  damage_sector(1);
  damage_sector(2);
  staged_sectors({0, 1});
  auto p = plan();
  REQUIRE_FALSE(p);
  CHECK_THAT(describe(p.error()), Catch::Contains("on the flash no longer matches"));
}

TEST_CASE_METHOD(block_fixture, "without the chip's times the plan keeps to differing sectors") {
  chip->set_timing(4 * sector, 0, 0, 0);
  damage_sector(0);
  damage_sector(2);
  auto p = plan();
  REQUIRE(p);
  REQUIRE(p->runs.size() == 2);
  CHECK(p->runs[0].sector_count == 1);
  CHECK(p->runs[1].first_sector == 2);
}
