#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/error.hpp"
#include "hal/flash/flashrom.hpp"
#include "hal/flash/region.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;
using test::slice;

namespace {

constexpr uint64_t chip_size = 16 << 20; // W25Q128FV
constexpr uint32_t sector = 4096;
constexpr uint32_t page = 256;

/// `n` deterministic random bytes, eight per draw: the chip's 16 MiB are made for every case.
std::vector<uint8_t> chip_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 gen{seed};
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; i += 8) {
    auto v = gen();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return out;
}

/// The whole file at `path`, read in one go (it is the chip's 16 MiB).
std::vector<uint8_t> whole_file(const std::string& path) {
  std::vector<uint8_t> out(std::filesystem::file_size(path));
  std::ifstream in{path, std::ios::binary};
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  REQUIRE(in);
  return out;
}

struct log_line {
  log_level level;
  std::string text;
};

/// flashrom's dummy programmer emulating a W25Q128FV whose content is a file of random bytes.
struct chip {
  test::temp_dir dir;
  std::string path = dir.path("chip.bin");
  std::vector<uint8_t> initial = chip_bytes(chip_size, 23);
  std::vector<log_line> log;
  std::unique_ptr<flashrom_flash> flash;

  /// `chip_name` empty probes for every chip flashrom knows (slower).
  explicit chip(std::string chip_name = "W25Q128.V") {
    test::write_bytes(path, initial);
    auto opened = flashrom_flash::open(options(std::move(chip_name)));
    REQUIRE(opened);
    flash = std::move(*opened);
  }

  flashrom_options options(std::string chip_name = "W25Q128.V") {
    flashrom_options o;
    o.programmer = "dummy:emulate=W25Q128FV,image=" + path;
    o.chip = std::move(chip_name);
    o.log = [this](log_level level, std::string_view text) {
      log.push_back({level, std::string{text}});
    };
    return o;
  }

  std::vector<uint8_t> read(uint64_t offset, size_t n) {
    std::vector<uint8_t> out(n);
    auto err = flash->read(offset, out);
    REQUIRE_FALSE(err);
    return out;
  }

  std::vector<uint8_t> file_bytes() const {
    return whole_file(path);
  }

  bool logged(std::string_view text) const {
    return std::any_of(log.begin(), log.end(),
                       [&](auto& l) { return l.text.find(text) != std::string::npos; });
  }
};

/// `bytes` with `part` copied over it at `offset`.
std::vector<uint8_t> patched(std::vector<uint8_t> bytes, uint64_t offset,
                             const std::vector<uint8_t>& part) {
  std::copy(part.begin(), part.end(), bytes.begin() + static_cast<ptrdiff_t>(offset));
  return bytes;
}

/// The error opening `options` gives, as one line.
std::string open_error(const flashrom_options& options) {
  auto opened = flashrom_flash::open(options);
  REQUIRE_FALSE(opened);
  auto text = describe(opened.error());
  CHECK(text.find('\n') == std::string::npos);
  return text;
}

} // namespace

TEST_CASE("a flashrom chip has the probed chip's size, the configured sectors and reads a region") {
  chip c{""}; // probes for every chip flashrom knows
  auto g = c.flash->geometry();
  CHECK(g.size == chip_size);
  CHECK(g.erase_size == sector);
  CHECK(g.program_size == page);
  c.log.clear();
  CHECK(c.read(0x3f0000 + 17, 3 * sector) == slice(c.initial, 0x3f0000 + 17, 3 * sector));
  // Later calls probe for the chip found at open alone.
  CHECK(std::count_if(c.log.begin(), c.log.end(),
                      [](auto& l) { return l.text.starts_with("Probing for"); })
        == 1);
  CHECK(c.read(chip_size, 0).empty());
  std::vector<uint8_t> past(2);
  CHECK(c.flash->read(chip_size - 1, past));
}

TEST_CASE("a flashrom read sees what another writer put in the dummy's image file since") {
  chip c;
  CHECK(c.read(0x10000, 16) == slice(c.initial, 0x10000, 16));
  auto corrupt = std::vector<uint8_t>(16, 0x5a);
  {
    std::fstream f{c.path, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(0x10000);
    f.write(reinterpret_cast<const char*>(corrupt.data()), 16);
  }
  CHECK(c.read(0x10000, 16) == corrupt);
}

TEST_CASE("a flashrom rewrite replaces exactly its sectors, and the file holds them on return") {
  chip c;
  constexpr uint64_t at = 0x3f0000;
  auto data = test::random_bytes(3 * sector, 5);
  // The middle sector already holds its data, so flashrom skips it; the result is the same.
  std::copy_n(c.initial.begin() + at + sector, sector, data.begin() + sector);
  // A run of 0xff where the old content was not: the sector must be erased, not only programmed.
  std::fill_n(data.begin() + 2 * sector + 100, 300, 0xff);
  REQUIRE_FALSE(c.flash->rewrite(at, data));
  auto want = patched(c.initial, at, data);
  CHECK(c.file_bytes() == want);
  CHECK(c.read(at, data.size()) == data);
  // flashrom touched only the region: its erase blocks, one 4 KiB block each, two of them.
  CHECK(c.logged("0x3f0000-0x3f0fff:"));
  CHECK_FALSE(c.logged("0x3effff"));
  CHECK_FALSE(c.logged("0x3f3000"));
  CHECK_FALSE(c.flash->rewrite(at, data)); // nothing differs now
  CHECK(c.file_bytes() == want);
}

TEST_CASE("flashrom erase sets whole sectors to 0xff and program only clears bits") {
  chip c;
  REQUIRE_FALSE(c.flash->erase(sector, 2 * sector));
  auto want = c.initial;
  std::fill_n(want.begin() + sector, 2 * sector, 0xff);
  CHECK(c.file_bytes() == want);

  std::vector<uint8_t> first{0xf0, 0x0f, 0xaa, 0xff};
  REQUIRE_FALSE(c.flash->program(sector + page, first));
  CHECK(c.read(sector + page, 4) == first);
  std::vector<uint8_t> second{0xcc, 0xff, 0x55, 0x00};
  REQUIRE_FALSE(c.flash->program(sector + page, second));
  want = patched(want, sector + page, {0xc0, 0x0f, 0x00, 0x00});

  // Over unerased random cells, and across pages and sectors at once: old AND new.
  auto data = test::random_bytes(3 * page, 9);
  constexpr uint64_t at = 4 * sector - page - 7;
  REQUIRE_FALSE(c.flash->program_range(at, data));
  for (size_t i = 0; i < data.size(); ++i)
    want[at + i] &= data[i];
  CHECK(c.file_bytes() == want);

  CHECK(has_code(c.flash->program(page - 2, first), errc::invalid_argument)); // crosses a page
  CHECK(has_code(c.flash->erase(100, sector), errc::invalid_argument));
  CHECK(has_code(c.flash->rewrite(0, std::vector<uint8_t>(100)), errc::invalid_argument));
  CHECK(has_code(c.flash->erase(chip_size, sector), errc::invalid_argument));
}

TEST_CASE("a write-protected flashrom chip refuses erase, program and rewrite but reads") {
  chip c;
  REQUIRE_FALSE(c.flash->set_write_protect(true));
  auto err = c.flash->rewrite(0, std::vector<uint8_t>(sector, 0));
  REQUIRE(err);
  CHECK(describe(err) == "flashrom (dummy): rewrite of 0x1000 bytes at 0x0: write-protected");
  CHECK(c.flash->erase(0, sector));
  CHECK(c.flash->program(0, std::vector<uint8_t>{0}));
  CHECK(c.flash->program_range(0, std::vector<uint8_t>(page, 0)));
  CHECK(c.read(0, 8) == slice(c.initial, 0, 8));
  CHECK(c.file_bytes() == c.initial);
  REQUIRE_FALSE(c.flash->set_write_protect(false));
  CHECK_FALSE(c.flash->rewrite(0, std::vector<uint8_t>(sector, 0)));
}

TEST_CASE("a failed flashrom write is one line naming the programmer and the region") {
  chip c;
  auto o = c.options();
  // The programmer refuses every erase command the chip has.
  o.programmer += ",spi_blacklist=2052d860c7";
  auto opened = flashrom_flash::open(o);
  REQUIRE(opened);
  auto err = (*opened)->rewrite(0x3f0000, std::vector<uint8_t>(2 * sector, 0));
  REQUIRE(err);
  auto text = describe(err);
  // flashrom's own words follow: "(code 2): spi_write_cmd failed during command execution ..."
  CHECK(text.starts_with("flashrom (dummy): write of 0x3f0000..0x3f1fff failed (code 2): "));
  CHECK(text.find('\n') == std::string::npos);
}

TEST_CASE("a programmer, chip or image flashrom cannot use is refused in one line") {
  chip c;
  auto o = c.options();
  o.programmer = "foo";
  CHECK(open_error(o)
        == "flashrom: programmer 'foo' could not be initialised (code 1): Unknown programmer "
           "\"foo\".");
  o.programmer = "dummy:emulate=W25Q128FV,bogus=1";
  CHECK(open_error(o)
        == "flashrom: programmer 'dummy:emulate=W25Q128FV,bogus=1' could not be initialised "
           "(code -238): Unhandled programmer parameters: bogus=1");
  o = c.options("NOPE");
  CHECK(open_error(o) == "flashrom (dummy): no chip 'NOPE' found (code 2)");
  o = c.options();
  o.programmer = "dummy:emulate=W25Q128FV";
  CHECK(open_error(o).starts_with("flashrom (dummy): no image= parameter"));
  o = c.options();
  o.erase_size = 3 * sector;
  CHECK(open_error(o)
        == "flashrom (dummy): the chip's size 16777216 is not a multiple of the erase size 12288");
  std::filesystem::resize_file(c.path, 1 << 20); // a file for a smaller chip
  o = c.options();
  CHECK(open_error(o)
        == "flashrom (dummy): image file " + c.path
             + " holds 1048576 bytes, the emulated chip 16777216; flashrom would "
               "ignore it and replace it at the first write");
  std::filesystem::remove(c.path);
  CHECK(open_error(o).find("No such file or directory") != std::string::npos);
}

TEST_CASE("flashrom's messages reach the sink as lines") {
  chip c;
  c.log.clear();
  c.read(0, 16);
  CHECK(c.logged("Found Winbond flash chip \"W25Q128.V\" (16384 kB, SPI) on dummy."));
  CHECK(c.logged("Reading flash... done."));
  CHECK(std::all_of(c.log.begin(), c.log.end(), [](auto& l) {
    return l.level == log_level::debug && l.text.find('\n') == std::string::npos;
  }));
  auto o = c.options();
  o.programmer += ",bogus=1";
  c.log.clear();
  CHECK_FALSE(flashrom_flash::open(o));
  CHECK(std::any_of(c.log.begin(), c.log.end(), [](auto& l) {
    return l.level == log_level::error && l.text == "Unhandled programmer parameters: bogus=1";
  }));
}

TEST_CASE("two flashrom chips in one process keep apart") {
  chip a;
  chip b;
  REQUIRE_FALSE(a.flash->rewrite(0, std::vector<uint8_t>(sector, 0x11)));
  REQUIRE_FALSE(b.flash->rewrite(0, std::vector<uint8_t>(sector, 0x22)));
  CHECK(a.read(0, 2) == std::vector<uint8_t>{0x11, 0x11});
  CHECK(b.read(0, 2) == std::vector<uint8_t>{0x22, 0x22});
  CHECK(slice(a.file_bytes(), sector, sector) == slice(a.initial, sector, sector));
}

TEST_CASE("a BIOS region at the top of a flashrom chip is written through region_flash") {
  chip c;
  constexpr uint64_t bios = 3584 << 10; // 3.5 MiB, ending at the top of the chip
  constexpr uint64_t base = chip_size - bios;
  std::shared_ptr<flash> whole = std::move(c.flash);
  auto opened = region_flash::open(whole, base, 0);
  REQUIRE(opened);
  auto& region = **opened;
  CHECK(region.geometry().size == bios);
  CHECK(region.geometry().erase_size == sector);
  auto data = test::random_bytes(2 * sector, 3);
  REQUIRE_FALSE(region.rewrite(bios - 2 * sector, data)); // the chip's last two sectors
  CHECK(c.file_bytes() == patched(c.initial, chip_size - 2 * sector, data));
  std::vector<uint8_t> back(2 * sector);
  REQUIRE_FALSE(region.read(bios - 2 * sector, back));
  CHECK(back == data);
  CHECK(region.rewrite(bios, data)); // past the region's end
  CHECK(region.read(bios - 1, back));
}
