#include "tests/actors/actor_fixture.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <utility>

#include "actors/flash_check.hpp"
#include "actors/flasher.hpp"
#include "image/verified_blocks.hpp"

using namespace fwrescue;
using namespace fwrescue::test;

namespace {

/// A 32 KiB image (8 sectors of 4 KiB) staged and ready; the flash holds the same image with
/// the damage a test makes.
struct flasher_fixture : actor_fixture {
  test_image img = image(32 * 1024, 1, 7);
  flash_job job{img.manifest, "donor-a"};
  std::vector<flash_progress> progress;

  flasher_fixture() {
    write_bytes(store->staging_path(), img.bytes);
    std::copy(img.bytes.begin(), img.bytes.end(), chip->cells().begin());
    REQUIRE_FALSE(chip->set_write_protect(true));
  }

  void damage_sector(uint64_t sector) {
    chip->cells()[sector * 4096 + 123] ^= 0x01;
  }

  /// The offset of the first byte of `sector` that the image does not have at 0x00: a cell
  /// stuck at 0x00 there cannot be programmed right.
  size_t nonzero_byte_in(uint64_t sector) const {
    auto from = img.bytes.begin() + static_cast<ptrdiff_t>(sector * 4096);
    auto at = std::find_if(from, from + 4096, [](uint8_t b) { return b != 0; });
    REQUIRE(at != from + 4096);
    return static_cast<size_t>(at - img.bytes.begin());
  }

  std::vector<uint8_t> flash_image_bytes() const {
    return {chip->cells().begin(),
            chip->cells().begin() + static_cast<ptrdiff_t>(img.bytes.size())};
  }

  /// The transfer staged exactly `blocks` (job.staged says so).
  void mark_staged(const std::vector<uint64_t>& blocks) {
    job.staged.assign(img.manifest.fields.block_count(), false);
    for (auto i : blocks)
      job.staged[i] = true;
  }

  /// The transfer staged exactly `blocks`: the staging file holds their image bytes and nothing
  /// else (zeros, never written), and job.staged says so.
  void stage_only(const std::vector<uint64_t>& blocks) {
    const auto& f = img.manifest.fields;
    std::vector<uint8_t> staged(img.bytes.size(), 0);
    for (auto i : blocks) {
      auto at = static_cast<ptrdiff_t>(i * f.block_size);
      std::copy_n(img.bytes.begin() + at, f.block_length(i), staged.begin() + at);
    }
    write_bytes(store->staging_path(), staged);
    mark_staged(blocks);
  }

  std::vector<uint64_t> all_blocks() const {
    std::vector<uint64_t> out(img.manifest.fields.block_count());
    for (uint64_t i = 0; i < out.size(); ++i)
      out[i] = i;
    return out;
  }

  /// Memory holding the image's blocks `which`, as the transfer hands it over.
  std::shared_ptr<const verified_blocks> keep_in_memory(const digest& root,
                                                        const std::vector<uint64_t>& which) {
    const auto& f = img.manifest.fields;
    auto memory = verified_blocks::make(root, f.image_size, f.block_size);
    REQUIRE(memory);
    for (auto i : which) {
      auto at = img.bytes.begin() + static_cast<ptrdiff_t>(i * f.block_size);
      REQUIRE((*memory)->put(i, {at, at + f.block_length(i)}));
    }
    return *memory;
  }

  caf::expected<flash_done> flash() {
    auto staging = staging_file::open(store->staging_path(), job.target.fields.image_size);
    if (!staging)
      return staging.error();
    return flash_image(*ctx, job, **staging,
                       [this](const flash_progress& p) { progress.push_back(p); });
  }
};

} // namespace

TEST_CASE_METHOD(flasher_fixture, "only the sectors that differ are rewritten") {
  damage_sector(1);
  damage_sector(5);
  auto done = flash();
  REQUIRE(done);
  CHECK(done->sectors_written == 2);
  CHECK(done->sectors_total == 8);
  CHECK(chip->sectors_erased() == 2);
  CHECK(flash_image_bytes() == img.bytes);
  REQUIRE_FALSE(progress.empty());
  CHECK(progress.back().sectors_done == 8);
  CHECK(progress.back().sectors_total == 8);
  // The check after writing is the recovery's verification: it names the image.
  CHECK(done->check.ok());
  CHECK(done->check.root == img.manifest.fields.merkle_root);
  CHECK(done->check.detail.find("flash matches") != std::string::npos);
  // Protection is back on once the flash is written.
  CHECK(chip->write_protected());
  // The recovery is over: nothing of it stays in the state directory.
  CHECK_FALSE(std::filesystem::exists(store->staging_path()));
}

TEST_CASE_METHOD(flasher_fixture, "a flash that already matches is not erased at all") {
  auto done = flash();
  REQUIRE(done);
  CHECK(done->sectors_written == 0);
  CHECK(chip->erase_calls() == 0);
  CHECK(chip->program_calls() == 0);
}

TEST_CASE_METHOD(flasher_fixture, "success is recorded: installed manifest, svn floor, journal") {
  damage_sector(0);
  REQUIRE_FALSE(store->raise_svn_floor(3));
  REQUIRE(flash());
  auto installed = store->installed_manifest();
  REQUIRE(installed);
  REQUIRE(*installed);
  CHECK((*installed)->fields == img.manifest.fields);
  CHECK((*installed)->block_digests == img.manifest.block_digests);
  auto floor = store->svn_floor();
  REQUIRE(floor);
  CHECK(*floor == 7);
  auto journal = store->journal();
  REQUIRE(journal);
  CHECK_FALSE(*journal);
}

TEST_CASE_METHOD(flasher_fixture, "the host is kept quiet while flashing and restored after") {
  damage_sector(2);
  SECTION("powered off") {
    REQUIRE(flash());
    CHECK(power->calls() == std::vector<std::string>{"power_off", "power_on"});
  }
  SECTION("held in reset") {
    ctx->config.host_power.during_flash = "reset";
    REQUIRE(flash());
    CHECK(power->calls() == std::vector<std::string>{"hold_reset", "release_reset"});
  }
  SECTION("after a restart mid-flash, the state recorded before the first attempt") {
    // The daemon died with the host off, which it had turned off itself.
    ctx->power = power = std::make_shared<fake_host_power>(power_state::off);
    REQUIRE_FALSE(store->remember_host_before(power_state::on));
    REQUIRE_FALSE(
      store->write_journal({recovery_journal::phase::flashing, img.manifest, "donor-a"}));
    REQUIRE(flash());
    CHECK(power->calls() == std::vector<std::string>{"power_on"});
  }
  CHECK(power->current() == power_state::on);
  // The record goes once the host is back.
  auto record = store->host_before();
  REQUIRE(record);
  CHECK_FALSE(*record);
}

TEST_CASE_METHOD(flasher_fixture, "a later attempt restores the state the host had before the "
                                  "first one") {
  // The first attempt quiets the host, fails while writing and leaves the host off, as it must
  // (the flash may be half written). The retry stages the image again, which rewrites the
  // journal in every phase, and then succeeds: the host must come back on, not stay off.
  damage_sector(2);
  chip->fail_call(fake_flash::op::erase, 1);
  auto staged_copy = img.bytes;
  REQUIRE_FALSE(flash());
  CHECK(power->current() == power_state::off);
  for (auto at : {recovery_journal::phase::transferring, recovery_journal::phase::staged})
    REQUIRE_FALSE(store->write_journal({at, img.manifest, "donor-b"}));
  write_bytes(store->staging_path(), staged_copy);
  REQUIRE(flash());
  CHECK(power->current() == power_state::on);
  CHECK(power->calls() == std::vector<std::string>{"power_off", "power_on"});
}

TEST_CASE_METHOD(flasher_fixture, "a flash that writes nothing never touches the host") {
  SECTION("the host stays on") {
    REQUIRE(flash());
  }
  SECTION("nor is a host held in reset released") {
    ctx->power = power = std::make_shared<fake_host_power>(power_state::reset_held);
    REQUIRE(flash());
    CHECK(power->current() == power_state::reset_held);
  }
  CHECK(power->calls().empty());
  CHECK(chip->erase_calls() == 0);
}

TEST_CASE_METHOD(flasher_fixture, "during_flash = on leaves the host running") {
  ctx->config.host_power.during_flash = "on";
  damage_sector(5);
  auto done = flash();
  REQUIRE(done);
  CHECK(power->calls().empty());
  CHECK(flash_image_bytes() == img.bytes);
  // after_flash = "restore": nothing changed, so there is no new boot to watch; the host runs
  // the new image from its next boot.
  CHECK_FALSE(done->host_started);
}

TEST_CASE_METHOD(flasher_fixture, "after_flash = reset restarts the host on the new image") {
  damage_sector(5);
  SECTION("written while it runs (DC on): a reset once the image verifies") {
    ctx->config.host_power.during_flash = "on";
    ctx->config.host_power.after_flash = "reset";
    auto done = flash();
    REQUIRE(done);
    CHECK(power->calls() == std::vector<std::string>{"reset"});
    CHECK(done->host_started);
  }
  SECTION("written while it was off, when it had been off before: powered on all the same") {
    ctx->power = power = std::make_shared<fake_host_power>(power_state::off);
    ctx->config.host_power.after_flash = "reset";
    auto done = flash();
    REQUIRE(done);
    CHECK(power->calls() == std::vector<std::string>{"power_on"});
    CHECK(done->host_started);
  }
  CHECK(power->current() == power_state::on);
  CHECK(flash_image_bytes() == img.bytes);
  CHECK_FALSE(*store->host_before());
}

TEST_CASE_METHOD(flasher_fixture, "after_flash = leave keeps the running host as it is") {
  ctx->config.host_power.during_flash = "on";
  ctx->config.host_power.after_flash = "leave";
  damage_sector(5);
  auto done = flash();
  REQUIRE(done);
  CHECK(power->calls().empty());
  CHECK_FALSE(done->host_started);
}

TEST_CASE_METHOD(flasher_fixture, "a host powered on after the flash is a boot to watch") {
  damage_sector(5);
  auto done = flash();
  REQUIRE(done);
  CHECK(power->calls() == std::vector<std::string>{"power_off", "power_on"});
  CHECK(done->host_started);
}

TEST_CASE_METHOD(flasher_fixture, "a recovery that writes nothing does not reset the host") {
  ctx->config.host_power.during_flash = "on";
  ctx->config.host_power.after_flash = "reset";
  auto done = flash();
  REQUIRE(done);
  CHECK(power->calls().empty());
  CHECK_FALSE(done->host_started);
}

TEST_CASE_METHOD(flasher_fixture, "bytes of the last sector past the image keep their content") {
  img = make_image(release_key, random_bytes(30 * 1024 + 100, 8), 7);
  job = {img.manifest, "donor-a"};
  write_bytes(store->staging_path(), img.bytes);
  std::fill(chip->cells().begin(), chip->cells().end(), uint8_t{0x5a});
  auto done = flash();
  REQUIRE(done);
  CHECK(done->sectors_total == 8);
  CHECK(flash_image_bytes() == img.bytes);
  CHECK(std::all_of(chip->cells().begin() + static_cast<ptrdiff_t>(img.bytes.size()),
                    chip->cells().end(), [](uint8_t b) { return b == 0x5a; }));
}

TEST_CASE_METHOD(flasher_fixture, "blocks not staged stay as the flash holds them") {
  // The transfer staged only sector 4's blocks; the rest of the staging file was never written.
  damage_sector(4);
  REQUIRE(img.manifest.fields.block_size == 1024);
  stage_only({16, 17, 18, 19});
  auto done = flash();
  REQUIRE(done);
  CHECK(done->sectors_written == 1);
  CHECK(chip->sectors_erased() == 1);
  CHECK(flash_image_bytes() == img.bytes);
}

TEST_CASE_METHOD(flasher_fixture, "blocks larger than a sector are staged and checked whole") {
  // 16 KiB blocks over 4 KiB sectors: a block spans four sectors.
  img = make_image(release_key, random_bytes(64 * 1024, 12), 7, test_platform(), 16 * 1024);
  std::copy(img.bytes.begin(), img.bytes.end(), chip->cells().begin());
  damage_sector(6); // inside block 1 (sectors 4..7)
  std::vector<uint8_t> staged(img.bytes.size(), 0);
  std::copy(img.bytes.begin() + 16 * 1024, img.bytes.begin() + 32 * 1024,
            staged.begin() + 16 * 1024);
  write_bytes(store->staging_path(), staged);
  SECTION("with the list of staged blocks") {
    job = {img.manifest, "donor-a", {false, true, false, false}};
    auto done = flash();
    REQUIRE(done);
    CHECK(done->sectors_written == 1); // of block 1's four sectors, only the damaged one differs
    CHECK(flash_image_bytes() == img.bytes);
  }
  SECTION("after a restart, without it") {
    job = {img.manifest, "donor-a"};
    auto done = flash();
    REQUIRE(done);
    CHECK(done->sectors_written == 1);
    CHECK(flash_image_bytes() == img.bytes);
  }
  SECTION("a staged block that does not verify is not written, even in part") {
    staged[16 * 1024 + 5] ^= 1; // sector 4, which is right on the flash
    write_bytes(store->staging_path(), staged);
    job = {img.manifest, "donor-a", {false, true, false, false}};
    auto before = chip->cells();
    auto done = flash();
    REQUIRE_FALSE(done);
    CHECK(describe(done.error()).find("staged block 1 does not match") != std::string::npos);
    CHECK(chip->cells() == before);
  }
}

TEST_CASE_METHOD(flasher_fixture, "after a restart, a block comes only from a copy that verifies") {
  // No list of staged blocks (as after a restart): each block is taken from the staging file if
  // its staged copy verifies, else from the flash if that verifies.
  damage_sector(4);
  auto staged = img.bytes;
  staged[9000] ^= 0x80; // in sector 2, which is right on the flash
  write_bytes(store->staging_path(), staged);
  SECTION("no list") {
  }
  SECTION("a list that does not fit the image counts as none") {
    job.staged.assign(5, true);
  }
  auto done = flash();
  REQUIRE(done);
  CHECK(done->sectors_written == 1); // sector 4 only
  CHECK(flash_image_bytes() == img.bytes);
}

TEST_CASE_METHOD(flasher_fixture, "a block with no copy that verifies stops the flash untouched") {
  damage_sector(4);
  damage_sector(2);
  auto before = chip->cells();
  auto staged = img.bytes;
  staged[2 * 4096 + 123] ^= 0x80; // sector 2 is wrong in the staging file and on the flash
  write_bytes(store->staging_path(), staged);
  auto done = flash();
  REQUIRE_FALSE(done);
  CHECK(describe(done.error())
        == "block 8 matches the signed Merkle root neither in the staging file nor on the flash; "
           "the flash is untouched");
  CHECK(chip->erase_calls() == 0);
  CHECK(chip->program_calls() == 0);
  CHECK(chip->cells() == before);
  CHECK(power->calls().empty()); // the host was never touched
  auto installed = store->installed_manifest();
  REQUIRE(installed);
  CHECK_FALSE(*installed);
}

TEST_CASE_METHOD(flasher_fixture, "a write that disturbs another sector fails the final check") {
  damage_sector(1);
  // Erasing sector 1 flips a bit in sector 6, which was already right and is not rewritten.
  chip->after_erase = [this](uint64_t, uint64_t) { chip->cells()[6 * 4096 + 7] ^= 0x10; };
  auto done = flash();
  REQUIRE_FALSE(done);
  auto blocks = img.manifest.fields.block_count();
  CHECK(describe(done.error())
          .find(fmt::format("does not verify after writing: 1 of {} blocks", blocks))
        != std::string::npos);
  auto installed = store->installed_manifest();
  REQUIRE(installed);
  CHECK_FALSE(*installed); // nothing recorded
  auto journal = store->journal();
  REQUIRE(journal);
  CHECK(*journal); // the next attempt resumes
}

TEST_CASE_METHOD(flasher_fixture, "a sector disturbed after it was written is written again, "
                                  "and the whole image read again") {
  damage_sector(1);
  damage_sector(5);
  // Erasing sector 5 flips a bit in sector 1, written (and its blocks hashed) just before. The
  // read-back after the last write finds it; sector 1 alone is written a second time.
  chip->after_erase = [this](uint64_t offset, uint64_t) {
    if (offset == 5 * 4096)
      chip->cells()[1 * 4096 + 9] ^= 0x04;
  };
  auto reads_before = chip->read_calls();
  auto done = flash();
  REQUIRE(done);
  CHECK(done->check.ok());
  CHECK(flash_image_bytes() == img.bytes);
  CHECK(chip->sectors_erased() == 3); // sectors 1 and 5, then sector 1 again
  // Reads: the image once to plan, once after the writes, sector 1 before and after its second
  // write, and the image once more.
  CHECK(chip->read_calls() - reads_before == 1 + 1 + 2 + 1);
}

TEST_CASE_METHOD(flasher_fixture, "sectors that keep disturbing each other fail the final check") {
  damage_sector(1);
  damage_sector(5);
  // Each erase of sector 1 flips a bit in sector 5, and each erase of sector 5 one in sector 1:
  // the second write of sector 1 disturbs sector 5 again, which the second read-back catches.
  chip->after_erase = [this](uint64_t offset, uint64_t) {
    if (offset == 5 * 4096)
      chip->cells()[1 * 4096 + 9] ^= 0x04;
    if (offset == 1 * 4096)
      chip->cells()[5 * 4096 + 9] ^= 0x04;
  };
  auto done = flash();
  REQUIRE_FALSE(done);
  auto blocks = img.manifest.fields.block_count();
  CHECK(describe(done.error())
          .find(fmt::format("does not verify after writing: 1 of {} blocks do not match the image "
                            "just written, first bad block 20 at 0x5000",
                            blocks))
        != std::string::npos);
  CHECK(chip->write_protected());
  auto installed = store->installed_manifest();
  REQUIRE(installed);
  CHECK_FALSE(*installed); // nothing recorded
}

TEST_CASE_METHOD(flasher_fixture, "a sector whose first write does not take is written again") {
  damage_sector(2);
  // The first erase of sector 2 leaves one cell at 0x00, which programming cannot set back to
  // the image's (non-zero) byte.
  auto stuck = nonzero_byte_in(2);
  bool first = true;
  chip->after_erase = [&](uint64_t offset, uint64_t) {
    if (offset == 2 * 4096 && std::exchange(first, false))
      chip->cells()[stuck] = 0x00;
  };
  auto done = flash();
  REQUIRE(done);
  CHECK(done->check.ok());
  CHECK(flash_image_bytes() == img.bytes);
  CHECK(chip->sectors_erased() == 2);
}

TEST_CASE_METHOD(flasher_fixture, "a sector that reads back wrong after two writes stops the "
                                  "flash") {
  damage_sector(2);
  auto stuck = nonzero_byte_in(2);
  chip->after_erase = [&](uint64_t offset, uint64_t) {
    if (offset == 2 * 4096)
      chip->cells()[stuck] = 0x00;
  };
  auto done = flash();
  REQUIRE_FALSE(done);
  CHECK(describe(done.error()).find("sector at 0x2000 reads back different after two writes")
        != std::string::npos);
  CHECK(chip->sectors_erased() == 2);
  CHECK(chip->write_protected());
  auto journal = store->journal();
  REQUIRE(journal);
  CHECK(*journal); // the next attempt resumes
}

TEST_CASE_METHOD(flasher_fixture, "the final check's tree describes the flash, whatever content "
                                  "it was handed and on any number of threads") {
  const auto& m = img.manifest.fields;
  for (unsigned threads : {1u, 2u, 3u}) {
    CAPTURE(threads);
    // The tree after handing write_check `pieces` (offset, content) as written.
    auto tree_after = [&](std::vector<std::pair<uint64_t, std::span<const uint8_t>>> pieces) {
      write_check check{m, threads};
      for (auto [offset, bytes] : pieces)
        check.written(offset, bytes);
      auto tree = check.finish(*chip);
      REQUIRE(tree);
      return std::move(*tree);
    };
    // Pieces cover blocks in part and in whole (1 KiB blocks): 1536..5632 holds blocks 2-4 whole.
    auto content = img.bytes;
    CHECK(tree_after({{1536, std::span{content}.subspan(1536, 4096)},
                      {16384, std::span{content}.subspan(16384, 8192)}})
            .root()
          == m.merkle_root);

    // Content that does not match the flash is not trusted: those blocks are hashed from the
    // flash, whose bytes are right.
    auto wrong = img.bytes;
    wrong[3 * 1024 + 5] ^= 0x01;
    CHECK(tree_after({{0, std::span{wrong}.first(8192)}}).root() == m.merkle_root);

    // And a flash that differs from the content it was hashed from shows in the tree.
    chip->cells()[3 * 1024 + 5] ^= 0x01;
    auto changed = tree_after({{0, std::span{content}.first(8192)}});
    CHECK(changed.root() != m.merkle_root);
    CHECK(changed.leaves()[3] != img.manifest.block_digests[3]);
    CHECK(changed.leaves()[4] == img.manifest.block_digests[4]);
    chip->cells()[3 * 1024 + 5] ^= 0x01;

    // A second finish() reads the flash afresh, with the content hashed once: the flasher's
    // read after second writes.
    write_check again{m, threads};
    again.written(0, std::span{content}.first(8192));
    chip->cells()[6 * 1024] ^= 0x80;
    auto before = again.finish(*chip);
    REQUIRE(before);
    CHECK(before->leaves()[6] != img.manifest.block_digests[6]);
    chip->cells()[6 * 1024] ^= 0x80;
    auto after = again.finish(*chip);
    REQUIRE(after);
    CHECK(after->root() == m.merkle_root);
  }
}

TEST_CASE_METHOD(flasher_fixture, "a staged block is checked before its sector is erased") {
  damage_sector(2);
  damage_sector(5);
  auto staged = img.bytes;
  staged[5 * 4096 + 9] ^= 0x01; // sector 5's staged copy is wrong too
  write_bytes(store->staging_path(), staged);
  job.staged.assign(img.manifest.fields.block_count(), true);
  auto before = chip->cells();
  auto done = flash();
  REQUIRE_FALSE(done);
  auto bad_block = (5 * 4096 + 9) / img.manifest.fields.block_size;
  CHECK(describe(done.error())
        == fmt::format("staged block {} does not match the signed Merkle root; the flash is "
                       "untouched",
                       bad_block));
  CHECK(chip->erase_calls() == 0); // not even sector 2, which was staged right
  CHECK(chip->cells() == before);
}

TEST_CASE_METHOD(flasher_fixture,
                 "a block left on the flash is checked again before a sector it shares is erased") {
  // 1 KiB blocks in 4 KiB sectors: block 16 is staged, block 17 stays on the flash, both in
  // sector 4; block 17 changed on the flash after the transfer took it as good.
  auto bs = img.manifest.fields.block_size;
  REQUIRE(bs == 1024);
  chip->cells()[16 * 1024 + 1] ^= 0x01;
  chip->cells()[17 * 1024 + 1] ^= 0x01;
  mark_staged({16});
  auto before = chip->cells();
  auto done = flash();
  REQUIRE_FALSE(done);
  CHECK(describe(done.error())
        == "block 17 on the flash no longer matches the signed Merkle root (it changed since it "
           "was checked); the flash is untouched");
  CHECK(chip->cells() == before);
}

TEST_CASE_METHOD(flasher_fixture, "blocks kept in memory are written as verified, not read "
                                  "back from the staging file") {
  damage_sector(2);
  damage_sector(5);
  // The blocks of sectors 2 and 5 were pulled (1 KiB blocks, 4 per sector). The staging file
  // changed after the transfer; the transfer's memory did not.
  write_bytes(store->staging_path(), std::vector<uint8_t>(img.bytes.size(), 0));
  std::vector<uint64_t> pulled{8, 9, 10, 11, 20, 21, 22, 23};
  mark_staged(pulled);
  job.verified = keep_in_memory(img.manifest.fields.merkle_root, pulled);
  auto done = flash();
  REQUIRE(done);
  CHECK(done->sectors_written == 2);
  CHECK(flash_image_bytes() == img.bytes);
  CHECK(done->check.ok());
}

TEST_CASE_METHOD(flasher_fixture, "sectors of pulled blocks are written without reading the "
                                  "flash first") {
  // Every block was pulled (the flash is blank), so every sector differs: the flash is read only
  // to check what was written.
  std::fill(chip->cells().begin(), chip->cells().end(), uint8_t{0xff});
  job.staged.assign(img.manifest.fields.block_count(), true);
  job.verified = keep_in_memory(img.manifest.fields.merkle_root, all_blocks());
  std::optional<uint64_t> reads_before_erase;
  chip->after_erase = [&](uint64_t, uint64_t) {
    if (!reads_before_erase)
      reads_before_erase = chip->read_calls();
  };
  auto done = flash();
  REQUIRE(done);
  CHECK(done->sectors_written == 8);
  REQUIRE(reads_before_erase);
  CHECK(*reads_before_erase == 0);
  CHECK(flash_image_bytes() == img.bytes);
}

TEST_CASE_METHOD(flasher_fixture, "a sector with blocks from memory and from the staging file "
                                  "checks the staged ones") {
  // 1 KiB blocks: sector 2 holds blocks 8..11. 8 and 9 are in memory (their staged copies are
  // wrong and must not matter), 10 only in the staging file, and its staged copy is wrong.
  auto bs = img.manifest.fields.block_size;
  REQUIRE(bs == 1024);
  damage_sector(2);
  auto staged = img.bytes;
  staged[8 * 1024] ^= 0x01;
  staged[9 * 1024] ^= 0x01;
  staged[10 * 1024 + 3] ^= 0x01;
  write_bytes(store->staging_path(), staged);
  mark_staged({8, 9, 10, 11});
  job.verified = keep_in_memory(img.manifest.fields.merkle_root, {8, 9});
  auto before = chip->cells();
  auto done = flash();
  REQUIRE_FALSE(done);
  CHECK(describe(done.error())
        == "staged block 10 does not match the signed Merkle root; the flash is untouched");
  CHECK(chip->cells() == before);

  // With block 10 staged right, the sector is written from both.
  staged[10 * 1024 + 3] ^= 0x01;
  write_bytes(store->staging_path(), staged);
  done = flash();
  REQUIRE(done);
  CHECK(done->sectors_written == 1);
  CHECK(flash_image_bytes() == img.bytes);
}

TEST_CASE_METHOD(flasher_fixture, "blocks kept in memory for another image are not used") {
  damage_sector(2);
  write_bytes(store->staging_path(), std::vector<uint8_t>(img.bytes.size(), 0));
  job.staged.assign(img.manifest.fields.block_count(), true);
  digest other = img.manifest.fields.merkle_root;
  other[0] ^= 0xff;
  job.verified = keep_in_memory(other, all_blocks());
  auto before = chip->cells();
  auto done = flash();
  REQUIRE_FALSE(done);
  CHECK(describe(done.error()).find("staged block 0 does not match") == 0);
  CHECK(chip->cells() == before);
}

TEST_CASE_METHOD(flasher_fixture, "a block kept on the flash survives a crash between erasing "
                                  "its sector and programming it") {
  // 1 KiB blocks in 4 KiB sectors: block 16 was pulled, blocks 17..19 stay on the flash, all in
  // sector 4. The first attempt dies after the erase (programming fails, as a daemon killed
  // there would leave it).
  auto bs = img.manifest.fields.block_size;
  REQUIRE(bs == 1024);
  chip->cells()[16 * 1024 + 1] ^= 0x01;
  stage_only({16});
  chip->fail_call(fake_flash::op::program, 1);
  REQUIRE_FALSE(flash());
  CHECK(std::all_of(chip->cells().begin() + 4 * 4096, chip->cells().begin() + 5 * 4096,
                    [](uint8_t b) { return b == 0xff; })); // erased, not programmed

  // The restarted daemon knows only the journal: no list of staged blocks, no memory.
  job.staged.clear();
  auto done = flash();
  REQUIRE(done);
  CHECK(flash_image_bytes() == img.bytes);
}

TEST_CASE_METHOD(flasher_fixture, "a short last block kept on the flash survives a crash too") {
  // 31 KiB + 100 bytes in 1 KiB blocks: sector 7 holds blocks 28..31, and block 31 is 100
  // bytes. Block 28 was pulled; 29..31 stay on the flash.
  img = make_image(release_key, random_bytes(31 * 1024 + 100, 9), 7);
  job = {img.manifest, "donor-a"};
  std::copy(img.bytes.begin(), img.bytes.end(), chip->cells().begin());
  chip->cells()[28 * 1024 + 1] ^= 0x01;
  stage_only({28});
  chip->fail_call(fake_flash::op::program, 1);
  REQUIRE_FALSE(flash());

  job.staged.clear();
  auto done = flash();
  REQUIRE(done);
  CHECK(flash_image_bytes() == img.bytes);
}

TEST_CASE_METHOD(flasher_fixture, "a manifest without its block digests is not flashed") {
  damage_sector(4);
  job.target.block_digests.clear();
  auto before = chip->cells();
  auto done = flash();
  REQUIRE_FALSE(done);
  CHECK(describe(done.error()).find("block digests do not build its signed Merkle root")
        != std::string::npos);
  CHECK(chip->cells() == before);
  CHECK(power->calls().empty());
}

TEST_CASE_METHOD(flasher_fixture, "a failing erase leaves the journal for the next attempt") {
  damage_sector(3);
  chip->fail_call(fake_flash::op::erase, 1);
  auto done = flash();
  REQUIRE_FALSE(done);
  CHECK(describe(done.error()).find("injected failure") != std::string::npos);
  auto journal = store->journal();
  REQUIRE(journal);
  REQUIRE(*journal);
  CHECK((*journal)->at == recovery_journal::phase::flashing);
  // The host was turned off for the write; what it was before is recorded for the retry.
  auto record = store->host_before();
  REQUIRE(record);
  REQUIRE(*record);
  CHECK(**record == power_state::on);
  CHECK((*journal)->target.fields.merkle_root == img.manifest.fields.merkle_root);
  auto installed = store->installed_manifest();
  REQUIRE(installed);
  CHECK_FALSE(*installed);
  auto floor = store->svn_floor();
  REQUIRE(floor);
  CHECK(*floor == 0);
}

TEST_CASE_METHOD(flasher_fixture, "the flasher actor reports to the coordinator") {
  auto coordinator = record(roles::coordinator);
  auto flasher_actor = spawn(flasher);
  damage_sector(6);
  caf::anon_send(flasher_actor, job);
  run();
  REQUIRE(coordinator->count<flash_done>() == 1);
  CHECK(coordinator->last<flash_done>().sectors_written == 1);
  CHECK(coordinator->count<flash_progress>() >= 1);
  CHECK(flash_image_bytes() == img.bytes);

  SECTION("a failure becomes flash_failed") {
    damage_sector(6);
    write_bytes(store->staging_path(), img.bytes); // staged anew: success removed the file
    chip->fail_call(fake_flash::op::erase, chip->erase_calls() + 1);
    caf::anon_send(flasher_actor, job);
    run();
    REQUIRE(coordinator->count<flash_failed>() == 1);
    CHECK(coordinator->last<flash_failed>().reason.find("injected failure") != std::string::npos);
  }
  SECTION("safe hold refuses to write") {
    caf::anon_send(flasher_actor, hold_atom::value);
    damage_sector(6);
    auto erases = chip->erase_calls();
    caf::anon_send(flasher_actor, job);
    run();
    REQUIRE(coordinator->count<flash_failed>() == 1);
    CHECK(coordinator->last<flash_failed>().reason.find("safe hold") != std::string::npos);
    CHECK(chip->erase_calls() == erases);
  }
}

TEST_CASE_METHOD(flasher_fixture, "a job whose manifest names another component is refused, "
                                  "nothing written") {
  // Negotiation refuses such an image; this is the flasher's own check, the last before the chip.
  auto nic = make_image(release_key, img.bytes, 7, test_platform(), 1024, "nic");
  job.target = nic.manifest;
  damage_sector(3);
  auto before = chip->cells();
  auto done = flash();
  REQUIRE_FALSE(done);
  CHECK(describe(done.error())
        == "flash: the image is for component nic, this flash holds bios; nothing written");
  CHECK(chip->erase_calls() == 0);
  CHECK(chip->program_calls() == 0);
  CHECK(chip->cells() == before);
  CHECK(power->calls().empty());
  // Nothing of the recovery is recorded either: no journal, no installed manifest, no floor.
  auto journal = store->journal();
  REQUIRE(journal);
  CHECK_FALSE(*journal);
  auto installed = store->installed_manifest();
  REQUIRE(installed);
  CHECK_FALSE(*installed);

  // Through the actor: one flash_failed, marked untouched.
  auto coordinator = record(roles::coordinator);
  auto flasher_actor = spawn(flasher);
  caf::anon_send(flasher_actor, job);
  run();
  REQUIRE(coordinator->count<flash_failed>() == 1);
  CHECK(coordinator->last<flash_failed>().reason
        == "flash: the image is for component nic, this flash holds bios; nothing written");
  CHECK(coordinator->last<flash_failed>().untouched);
  CHECK(chip->cells() == before);

  // The node's flash being the NIC's, the same job is written.
  ctx->config.flash.component = "nic";
  REQUIRE(flash());
  CHECK(flash_image_bytes() == img.bytes);
}
