#include "tests/actors/actor_fixture.hpp"

#include <algorithm>

#include "actors/monitor.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace std::chrono_literals;

namespace {

struct monitor_fixture : actor_fixture {
  std::shared_ptr<mailbox_log> coordinator = record(roles::coordinator);
  std::shared_ptr<mailbox_log> donor = record(roles::donor);
  test_image img = image(32 * 1024); // 32 blocks of 1 KiB

  /// The flash holds the installed image.
  void install() {
    std::copy(img.bytes.begin(), img.bytes.end(), chip->cells().begin());
    REQUIRE_FALSE(store->set_installed_manifest(img.manifest));
  }

  void corrupt_block(uint64_t index) {
    chip->cells()[index * 1024 + 17] ^= 0x40;
  }
};

} // namespace

TEST_CASE_METHOD(monitor_fixture, "a flash that matches the installed manifest is ok") {
  install();
  auto report = check_installed(*ctx);
  CHECK(report.checked);
  CHECK(report.ok());
  CHECK(report.block_count == 32);
  CHECK(report.detail.find("flash matches") == 0);
}

TEST_CASE_METHOD(monitor_fixture, "differing blocks are reported as ranges") {
  install();
  corrupt_block(3);
  corrupt_block(4);
  corrupt_block(20);
  auto report = check_installed(*ctx);
  CHECK(report.checked);
  CHECK_FALSE(report.ok());
  CHECK(report.bad == std::vector<leaf_range>{{3, 5}, {20, 21}});
  CHECK(report.detail.find("3 of 32 blocks") == 0);
  CHECK(report.detail.find("first bad block 3 at 0xc00") != std::string::npos);
}

TEST_CASE_METHOD(monitor_fixture, "without an installed manifest nothing is checked") {
  auto report = check_installed(*ctx);
  CHECK_FALSE(report.checked);
  CHECK_FALSE(report.ok());
  CHECK(report.bad.empty());
}

TEST_CASE_METHOD(monitor_fixture, "an unreadable flash is a fault of the path, not bad blocks") {
  install();
  chip->fail_call(fake_flash::op::read, 1);
  auto report = check_installed(*ctx);
  CHECK(report.checked);
  CHECK(report.fault == flash_fault::unreadable);
  CHECK(report.bad.empty()); // nothing to rewrite: the chip's content is unknown, not bad
  CHECK_FALSE(report.ok());
  CHECK_FALSE(report.needs_recovery());
  CHECK_THAT(report.detail, Catch::StartsWith("cannot read the flash")
                              && Catch::Contains("injected failure")
                              && Catch::Contains("path to the chip"));
}

TEST_CASE_METHOD(monitor_fixture, "an image that cannot fit the flash is unfixable, not bad") {
  img = make_image(release_key, random_bytes(chip->geometry().size + 4096, 3), 7);
  REQUIRE_FALSE(store->set_installed_manifest(img.manifest));
  auto report = check_installed(*ctx);
  CHECK(report.checked);
  CHECK(report.fault == flash_fault::unfixable);
  CHECK_FALSE(report.needs_recovery());
  CHECK_THAT(report.detail, Catch::Contains("does not fit") && Catch::Contains("no donor can fix"));
}

TEST_CASE_METHOD(monitor_fixture, "an installed manifest of another component is unfixable, "
                                  "not bad blocks") {
  install();
  ctx->config.flash.component = "nic";
  auto report = check_installed(*ctx);
  CHECK(report.checked);
  CHECK(report.fault == flash_fault::unfixable);
  CHECK(report.bad.empty());
  CHECK_FALSE(report.ok());
  CHECK_FALSE(report.needs_recovery());
  CHECK(report.detail
        == "the installed manifest is for component bios, this flash holds nic ([flash] "
           "component): not checked; correct [flash] component or the installed manifest");
}

TEST_CASE_METHOD(monitor_fixture, "a flash larger than the image says which bytes it checked") {
  install();
  REQUIRE(chip->geometry().size > img.bytes.size());
  auto report = check_installed(*ctx);
  CHECK(report.ok());
  CHECK_THAT(report.detail,
             Catch::StartsWith("flash matches")
               && Catch::Contains(fmt::format("checked chip bytes 0x0..{:#x} of {:#x}",
                                              img.bytes.size(), chip->geometry().size))
               && Catch::Contains("not checked"));

  SECTION("and names the region's place on the chip") {
    ctx->layout = {chip->geometry().size * 2, chip->geometry().size};
    auto placed = check_installed(*ctx);
    CHECK_THAT(placed.detail,
               Catch::Contains(fmt::format("checked chip bytes {:#x}..{:#x}", chip->geometry().size,
                                           chip->geometry().size + img.bytes.size())));
  }
}

TEST_CASE_METHOD(monitor_fixture,
                 "a check sends the report to the coordinator and tells the donor") {
  install();
  auto mon = spawn(monitor);
  caf::anon_send(mon, start_atom::value);
  run();
  CHECK(coordinator->count<flash_report>() == 0); // check_at_start is off
  caf::anon_send(mon, check_atom::value);
  run();
  REQUIRE(coordinator->count<flash_report>() == 1);
  CHECK(coordinator->last<flash_report>().ok());
  REQUIRE(donor->count<own_image_state>() == 1);
  CHECK(donor->last<own_image_state>().servable);

  corrupt_block(7);
  caf::anon_send(mon, check_atom::value);
  run();
  REQUIRE(coordinator->count<flash_report>() == 2);
  CHECK(coordinator->last<flash_report>().bad == std::vector<leaf_range>{{7, 8}});
  // A corrupt flash must not be served to peers.
  CHECK_FALSE(donor->last<own_image_state>().servable);
}

TEST_CASE_METHOD(monitor_fixture, "checks at start when configured") {
  ctx->config.monitor.check_at_start = true;
  auto mon = spawn(monitor);
  run();
  // Not before the supervisor says every role is registered: the report would be lost.
  CHECK(coordinator->count<flash_report>() == 0);
  caf::anon_send(mon, start_atom::value);
  run();
  REQUIRE(coordinator->count<flash_report>() == 1);
  CHECK_FALSE(coordinator->last<flash_report>().checked);
}

TEST_CASE_METHOD(monitor_fixture, "checks every interval, except while paused") {
  install();
  ctx->config.monitor.interval_s = 60;
  auto mon = spawn(monitor);
  run();
  advance(59s);
  CHECK(coordinator->count<flash_report>() == 0);
  advance(1s);
  CHECK(coordinator->count<flash_report>() == 1);
  advance(60s);
  CHECK(coordinator->count<flash_report>() == 2);

  caf::anon_send(mon, pause_atom::value);
  run();
  advance(120s);
  CHECK(coordinator->count<flash_report>() == 2);
  CHECK(chip->read_calls() > 0);
  auto reads = chip->read_calls();
  advance(60s);
  CHECK(chip->read_calls() == reads); // a paused monitor does not even read the flash

  caf::anon_send(mon, resume_atom::value);
  run();
  advance(60s);
  CHECK(coordinator->count<flash_report>() == 3);
}
