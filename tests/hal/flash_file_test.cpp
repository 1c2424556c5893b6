#include <chrono>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "hal/flash/file.hpp"
#include "tests/fakes/fake_flash.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

constexpr uint32_t sector = 4096;
constexpr uint32_t page = 256;

/// A flash file of `sectors` sectors holding random bytes, opened without the timing model.
struct chip {
  test::temp_dir dir;
  std::string path = dir.path("flash.bin");
  std::vector<uint8_t> initial;
  std::unique_ptr<file_flash> flash;

  explicit chip(size_t sectors = 4) : initial(test::random_bytes(sectors * sector, 11)) {
    test::write_bytes(path, initial);
    auto opened = file_flash::open(path, {0, sector, page});
    REQUIRE(opened);
    flash = std::move(*opened);
  }

  std::vector<uint8_t> read(uint64_t offset, size_t n) {
    std::vector<uint8_t> out(n);
    auto err = flash->read(offset, out);
    REQUIRE_FALSE(err);
    return out;
  }

  /// What the file itself holds, read around the flash object.
  std::vector<uint8_t> file_bytes() {
    return test::read_bytes(path);
  }
};

using test::slice;

} // namespace

TEST_CASE("a flash file has the file's size and reads back its content") {
  chip c;
  auto g = c.flash->geometry();
  CHECK(g.size == 4 * sector);
  CHECK(g.erase_size == sector);
  CHECK(g.program_size == page);
  CHECK(c.read(0, 4 * sector) == c.initial);
  CHECK(c.read(sector + 5, 100) == slice(c.initial, sector + 5, 100));
}

TEST_CASE("erase sets whole sectors to 0xff and leaves the others alone") {
  chip c;
  REQUIRE_FALSE(c.flash->erase(sector, 2 * sector));
  auto after = c.file_bytes();
  CHECK(slice(after, 0, sector) == slice(c.initial, 0, sector));
  CHECK(slice(after, sector, 2 * sector) == std::vector<uint8_t>(2 * sector, 0xff));
  CHECK(slice(after, 3 * sector, sector) == slice(c.initial, 3 * sector, sector));
}

TEST_CASE("program writes data into erased cells and only clears bits") {
  chip c;
  REQUIRE_FALSE(c.flash->erase(0, sector));
  std::vector<uint8_t> first{0xf0, 0x0f, 0xaa, 0xff};
  REQUIRE_FALSE(c.flash->program(page, first));
  CHECK(c.read(page, 4) == first);
  // Programming over unerased data leaves old AND new, as on a real chip.
  std::vector<uint8_t> second{0xcc, 0xff, 0x55, 0x00};
  REQUIRE_FALSE(c.flash->program(page, second));
  std::vector<uint8_t> anded{0xc0, 0x0f, 0x00, 0x00};
  CHECK(c.read(page, 4) == anded);
  CHECK(slice(c.file_bytes(), page, 4) == anded);
  // A whole page at once is one program.
  auto data = test::random_bytes(page, 5);
  REQUIRE_FALSE(c.flash->program(2 * page, data));
  CHECK(c.read(2 * page, page) == data);
  // Neighbouring bytes stay erased.
  CHECK(c.read(page + 4, 1) == std::vector<uint8_t>{0xff});
}

TEST_CASE("program_range writes many pages at once with the same NOR rules") {
  chip c;
  auto data = test::random_bytes(2 * sector, 9);
  SECTION("over erased sectors the data lands as is") {
    REQUIRE_FALSE(c.flash->erase(sector, 2 * sector));
    REQUIRE_FALSE(c.flash->program_range(sector, data));
    CHECK(slice(c.file_bytes(), sector, 2 * sector) == data);
    CHECK(slice(c.file_bytes(), 0, sector) == slice(c.initial, 0, sector));
    CHECK(slice(c.file_bytes(), 3 * sector, sector) == slice(c.initial, 3 * sector, sector));
  }
  SECTION("over programmed cells it only clears bits, also right after an erase and a program") {
    REQUIRE_FALSE(c.flash->erase(sector, sector));
    REQUIRE_FALSE(c.flash->program(sector, std::vector<uint8_t>(4, 0x0f)));
    REQUIRE_FALSE(c.flash->program_range(sector, data)); // sector 2 was never erased
    auto after = c.file_bytes();
    for (size_t i = 0; i < 2 * sector; ++i) {
      uint8_t old = i < sector ? (i < 4 ? 0x0f : 0xff) : c.initial[sector + i];
      if (after[sector + i] != (old & data[i]))
        FAIL("byte " << i << " is " << int(after[sector + i]) << ", not old AND new");
    }
  }
  SECTION("cells changed by another writer of the file while protected are read again") {
    REQUIRE_FALSE(c.flash->erase(0, sector));
    REQUIRE_FALSE(c.flash->set_write_protect(true));
    test::write_bytes(c.path, std::vector<uint8_t>(4 * sector, 0x00));
    REQUIRE_FALSE(c.flash->set_write_protect(false));
    REQUIRE_FALSE(c.flash->program_range(0, std::span{data}.first(sector)));
    CHECK(c.read(0, sector) == std::vector<uint8_t>(sector, 0x00));
  }
  SECTION("write protection, and ranges outside the chip, are refused") {
    REQUIRE_FALSE(c.flash->set_write_protect(true));
    CHECK(describe(c.flash->program_range(0, data)).find("write-protected") != std::string::npos);
    REQUIRE_FALSE(c.flash->set_write_protect(false));
    CHECK(describe(c.flash->program_range(3 * sector, data)).find("outside the chip")
          != std::string::npos);
    CHECK(c.file_bytes() == c.initial);
  }
}

TEST_CASE("the generic program_range programs page by page and skips erased pages") {
  test::fake_flash f{2 * sector, sector, page};
  auto data = test::random_bytes(page + 300, 4);
  std::fill(data.begin(), data.begin() + page, uint8_t{0xff}); // the first page is all 0xff
  REQUIRE_FALSE(f.flash::program_range(50, data));
  CHECK(f.program_calls() == 2); // page 0 skipped; the rest of page 1 and the start of page 2
  CHECK(std::equal(data.begin(), data.end(), f.cells().begin() + 50));
}

TEST_CASE("a program that crosses a page boundary is refused and changes nothing") {
  chip c;
  REQUIRE_FALSE(c.flash->erase(0, sector));
  auto err = c.flash->program(page - 2, std::vector<uint8_t>(4, 0x00));
  REQUIRE(err);
  CHECK(has_code(err, errc::invalid_argument));
  CHECK_THAT(describe(err), Catch::Contains("crosses a page boundary"));
  CHECK(c.read(0, sector) == std::vector<uint8_t>(sector, 0xff));
  CHECK(c.flash->program(0, std::vector<uint8_t>(page + 1, 0x00)));
}

TEST_CASE("a misaligned erase is refused and changes nothing") {
  chip c;
  auto offset_err = c.flash->erase(sector / 2, sector);
  REQUIRE(offset_err);
  CHECK(has_code(offset_err, errc::invalid_argument));
  CHECK_THAT(describe(offset_err), Catch::Contains("0x800"));
  auto length_err = c.flash->erase(0, sector + 1);
  REQUIRE(length_err);
  CHECK(has_code(length_err, errc::invalid_argument));
  CHECK(c.file_bytes() == c.initial);
}

TEST_CASE("reads, erases and programs outside the chip are refused") {
  chip c;
  std::vector<uint8_t> out(16);
  auto read_err = c.flash->read(4 * sector - 8, out);
  REQUIRE(read_err);
  CHECK(has_code(read_err, errc::invalid_argument));
  CHECK_THAT(describe(read_err), Catch::Contains("0x3ff8") && Catch::Contains(c.path));
  // An offset so large that offset + length wraps around must not slip through.
  CHECK(has_code(c.flash->read(UINT64_MAX - 4, out), errc::invalid_argument));
  CHECK(has_code(c.flash->erase(4 * sector, sector), errc::invalid_argument));
  CHECK(has_code(c.flash->program(4 * sector, std::vector<uint8_t>(1, 0)), errc::invalid_argument));
  CHECK(c.file_bytes() == c.initial);
}

TEST_CASE("a write-protected flash refuses erase and program but still reads") {
  chip c;
  REQUIRE_FALSE(c.flash->set_write_protect(true));
  auto erase_err = c.flash->erase(0, sector);
  REQUIRE(erase_err);
  CHECK(describe(erase_err) == "flash " + c.path + ": write-protected");
  auto program_err = c.flash->program(0, std::vector<uint8_t>(4, 0));
  REQUIRE(program_err);
  CHECK(describe(program_err) == "flash " + c.path + ": write-protected");
  CHECK(c.read(0, 16) == slice(c.initial, 0, 16));
  CHECK(c.file_bytes() == c.initial);
  REQUIRE_FALSE(c.flash->set_write_protect(false));
  CHECK_FALSE(c.flash->erase(0, sector));
}

TEST_CASE("what was written is in the file for the next instance") {
  chip c;
  auto data = test::random_bytes(page, 8);
  REQUIRE_FALSE(c.flash->erase(2 * sector, sector));
  REQUIRE_FALSE(c.flash->program(2 * sector + page, data));
  REQUIRE_FALSE(c.flash->sync());
  c.flash.reset();
  // The timing model only slows things down; it must not change results.
  auto reopened = file_flash::open(c.path, {0, sector, page, 0, 1, 0, 1});
  REQUIRE(reopened);
  std::vector<uint8_t> out(page);
  REQUIRE_FALSE((*reopened)->read(2 * sector + page, out));
  CHECK(out == data);
  REQUIRE_FALSE((*reopened)->erase(3 * sector, sector));
  REQUIRE_FALSE((*reopened)->read(3 * sector, out));
  CHECK(out == std::vector<uint8_t>(page, 0xff));
}

TEST_CASE("opening a flash file that is missing, empty or not whole sectors fails clearly") {
  test::temp_dir dir;
  auto missing = file_flash::open(dir.path("none.bin"), {0, sector, page});
  REQUIRE_FALSE(missing);
  CHECK_THAT(describe(missing.error()), Catch::Contains(dir.path("none.bin")));

  test::write_bytes(dir.path("empty.bin"), {});
  auto empty = file_flash::open(dir.path("empty.bin"), {0, sector, page});
  REQUIRE_FALSE(empty);
  CHECK_THAT(describe(empty.error()),
             Catch::Contains(dir.path("empty.bin")) && Catch::Contains("empty"));

  test::write_bytes(dir.path("odd.bin"), std::vector<uint8_t>(sector + 512, 0xff));
  auto odd = file_flash::open(dir.path("odd.bin"), {0, sector, page});
  REQUIRE_FALSE(odd);
  CHECK(has_code(odd.error(), errc::invalid_argument));
  CHECK_THAT(describe(odd.error()),
             Catch::Contains(dir.path("odd.bin")) && Catch::Contains("not a multiple"));

  test::write_bytes(dir.path("ok.bin"), std::vector<uint8_t>(sector, 0xff));
  auto bad_geometry = file_flash::open(dir.path("ok.bin"), {0, sector, 0});
  REQUIRE_FALSE(bad_geometry);
  CHECK(has_code(bad_geometry.error(), errc::invalid_argument));
}

TEST_CASE("the fake flash has the same NOR rules, counts what it does and fails on demand") {
  test::fake_flash fake{4 * sector, sector, page};
  CHECK(fake.cells() == std::vector<uint8_t>(4 * sector, 0xff));
  REQUIRE_FALSE(fake.program(0, std::vector<uint8_t>{0xf0, 0x0f}));
  REQUIRE_FALSE(fake.program(0, std::vector<uint8_t>{0x3c, 0xff}));
  CHECK(slice(fake.cells(), 0, 2) == std::vector<uint8_t>{0x30, 0x0f});
  CHECK(has_code(fake.program(page - 1, std::vector<uint8_t>(2, 0)), errc::invalid_argument));
  CHECK(has_code(fake.erase(1, sector), errc::invalid_argument));
  CHECK(has_code(fake.erase(4 * sector, sector), errc::invalid_argument));

  fake.fail_call(test::fake_flash::op::erase, 4);
  REQUIRE_FALSE(fake.erase(0, 2 * sector));
  CHECK(slice(fake.cells(), 0, 2) == std::vector<uint8_t>{0xff, 0xff});
  REQUIRE_FALSE(fake.program(sector, std::vector<uint8_t>(4, 0)));
  auto injected = fake.erase(sector, sector);
  REQUIRE(injected);
  CHECK(has_code(injected, errc::io_failure));
  CHECK(slice(fake.cells(), sector, 4) == std::vector<uint8_t>(4, 0));
  REQUIRE_FALSE(fake.erase(sector, sector));

  CHECK(fake.erase_calls() == 5);
  CHECK(fake.sectors_erased() == 3);
  CHECK(fake.program_calls() == 4);
  CHECK(fake.bytes_programmed() == 8);

  REQUIRE_FALSE(fake.set_write_protect(true));
  CHECK(fake.erase(0, sector));
  CHECK(fake.program(0, std::vector<uint8_t>(1, 0)));
}

TEST_CASE("an erase takes aligned whole blocks in one block erase each, and every operation is "
          "counted") {
  test::temp_dir dir;
  auto path = dir.path("flash.bin");
  constexpr uint32_t block = 16 * sector;
  test::write_bytes(path, test::random_bytes(40 * sector, 3));
  flash_geometry shape{0, sector, page, block};
  auto opened = file_flash::open(path, shape);
  REQUIRE(opened);
  auto& chip = **opened;
  CHECK(chip.geometry().block_erase_size == block);

  REQUIRE_FALSE(chip.erase(0, 40 * sector));
  CHECK(chip.op_counts()->block_erases == 2);
  CHECK(chip.op_counts()->sector_erases == 8);
  // Sectors 1..20: no block lies whole in it.
  REQUIRE_FALSE(chip.erase(sector, 20 * sector));
  CHECK(chip.op_counts()->block_erases == 2);
  CHECK(chip.op_counts()->sector_erases == 28);
  // Sectors 15..33: the block of sectors 16..31 whole, three sectors beside it.
  REQUIRE_FALSE(chip.erase(15 * sector, 19 * sector));
  CHECK(chip.op_counts()->block_erases == 3);
  CHECK(chip.op_counts()->sector_erases == 31);

  // Pages of all 0xff are not programmed; program() is one page.
  auto data = test::random_bytes(2 * sector, 4);
  std::fill(data.begin() + page, data.begin() + 2 * page, 0xff);
  REQUIRE_FALSE(chip.program_range(0, data));
  CHECK(chip.op_counts()->page_programs == 2 * sector / page - 1);
  REQUIRE_FALSE(chip.program(page, std::vector<uint8_t>(page, 0)));
  CHECK(chip.op_counts()->page_programs == 2 * sector / page);

  flash_op_counts done{3, 2, 10};
  CHECK(done.chip_us({0, sector, page, block, 45000, 150000, 700}) == 3 * 45000 + 2 * 150000
                                                                         + 10 * 700);
}

TEST_CASE("a block erase size that is not a multiple of the sector is refused") {
  test::temp_dir dir;
  test::write_bytes(dir.path("ok.bin"), std::vector<uint8_t>(4 * sector, 0xff));
  auto opened = file_flash::open(dir.path("ok.bin"), {0, sector, page, sector + sector / 2});
  REQUIRE_FALSE(opened);
  CHECK_THAT(describe(opened.error()), Catch::Contains("block erase size 6144"));
}

TEST_CASE("the timing model sleeps the datasheet's time of the operations done") {
  test::temp_dir dir;
  auto path = dir.path("flash.bin");
  test::write_bytes(path, std::vector<uint8_t>(32 * sector, 0));
  // 16 sector erases at 5 ms would take 80 ms; the block erase takes 20 ms.
  auto opened = file_flash::open(path, {0, sector, page, 16 * sector, 5000, 20000, 1000});
  REQUIRE(opened);
  auto& chip = **opened;
  auto t = std::chrono::steady_clock::now();
  REQUIRE_FALSE(chip.erase(0, 16 * sector));
  REQUIRE_FALSE(chip.program_range(0, std::vector<uint8_t>(4 * page, 0)));
  auto took = std::chrono::steady_clock::now() - t;
  CHECK(took >= std::chrono::milliseconds{24});
  CHECK(chip.op_counts()->chip_us(chip.geometry()) == 24000);
}

TEST_CASE("a rewrite of a timed chip erases only the sectors that do not already read 0xff") {
  test::temp_dir dir;
  auto path = dir.path("flash.bin");
  constexpr uint32_t block = 16 * sector;
  // Block 0: blank but for sectors 3 and 9; block 1: every sector written; block 2: blank.
  std::vector<uint8_t> before(48 * sector, 0xff);
  auto written = test::random_bytes(48 * sector, 5);
  std::copy_n(written.begin() + 3 * sector, sector, before.begin() + 3 * sector);
  std::copy_n(written.begin() + 9 * sector, sector, before.begin() + 9 * sector);
  std::copy_n(written.begin() + 16 * sector, 16 * sector, before.begin() + 16 * sector);
  test::write_bytes(path, before);
  auto opened = file_flash::open(path, {0, sector, page, block, 45000, 150000, 0});
  REQUIRE(opened);
  auto& chip = **opened;
  auto image = test::random_bytes(48 * sector, 6);
  REQUIRE_FALSE(chip.rewrite(0, image));
  // Two sector erases beat one block erase for block 0; block 1 is one block erase; block 2
  // is programmed without an erase.
  CHECK(chip.op_counts()->sector_erases == 2);
  CHECK(chip.op_counts()->block_erases == 1);
  CHECK(chip.op_counts()->page_programs == 48 * sector / page);
  std::vector<uint8_t> after(image.size());
  REQUIRE_FALSE(chip.read(0, after));
  CHECK(after == image);

  // Without the erase time the range is erased unread, whatever it holds.
  test::write_bytes(path, std::vector<uint8_t>(48 * sector, 0xff));
  auto untimed = file_flash::open(path, {0, sector, page, block});
  REQUIRE(untimed);
  REQUIRE_FALSE((*untimed)->rewrite(0, image));
  CHECK((*untimed)->op_counts()->block_erases == 3);
  REQUIRE_FALSE((*untimed)->read(0, after));
  CHECK(after == image);
}
