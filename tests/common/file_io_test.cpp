#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/unique_fd.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}

} // namespace

TEST_CASE("an atomic write creates the file with the requested mode") {
  test::temp_dir dir;
  auto path = dir.path("secret");
  REQUIRE_FALSE(write_file_atomic(path, bytes_of("abc"), 0600, on_existing::refuse, "key"));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto back = read_file(path, 100, "key");
  REQUIRE(back);
  CHECK(*back == bytes_of("abc"));
}

TEST_CASE("refusing to replace leaves the existing file as it was") {
  test::temp_dir dir;
  auto path = dir.path("f");
  REQUIRE_FALSE(write_file_atomic(path, bytes_of("old"), 0644, on_existing::refuse, "file"));
  auto err = write_file_atomic(path, bytes_of("new"), 0644, on_existing::refuse, "file");
  REQUIRE(err);
  CHECK(has_code(err, errc::already_exists));
  CHECK(*read_file(path, 100, "file") == bytes_of("old"));
  REQUIRE_FALSE(write_file_atomic(path, bytes_of("new"), 0644, on_existing::replace, "file"));
  CHECK(*read_file(path, 100, "file") == bytes_of("new"));
  // No temporary files are left behind.
  CHECK(std::distance(std::filesystem::directory_iterator{dir.path("")},
                      std::filesystem::directory_iterator{})
        == 1);
}

TEST_CASE("a write into a missing directory fails with the path in the message") {
  test::temp_dir dir;
  auto err = write_file_atomic(dir.path("no/such/file"), bytes_of("x"), 0644, on_existing::replace,
                               "manifest");
  REQUIRE(err);
  CHECK_THAT(describe(err), Catch::StartsWith("manifest " + dir.path("no/such/file")));
}

TEST_CASE("streaming reads the whole file in chunks") {
  test::temp_dir dir;
  auto data = test::random_bytes(10000, 3);
  test::write_bytes(dir.path("f"), data);
  std::vector<uint8_t> seen;
  size_t calls = 0;
  auto n = stream_file(
    dir.path("f"), 4096,
    [&](std::span<const uint8_t> chunk) {
      ++calls;
      seen.insert(seen.end(), chunk.begin(), chunk.end());
    },
    "image");
  REQUIRE(n);
  CHECK(*n == 10000);
  CHECK(calls == 3);
  CHECK(seen == data);
  auto dir_read = stream_file(
    dir.path(""), 4096, [](auto) {}, "image");
  REQUIRE_FALSE(dir_read);
  CHECK_THAT(describe(dir_read.error()), Catch::Contains("is a directory"));
}

TEST_CASE("positional reads and writes move whole buffers and say where they stopped") {
  test::temp_dir dir;
  auto path = dir.path("data.bin");
  test::write_bytes(path, std::vector<uint8_t>(100, 0));
  unique_fd fd{::open(path.c_str(), O_RDWR | O_CLOEXEC)};
  REQUIRE(fd.get() >= 0);
  auto bytes = test::random_bytes(40, 3);
  auto wrote = pwrite_all(fd.get(), 50, bytes);
  CHECK(wrote.error == 0);
  CHECK(wrote.at == 90);
  std::vector<uint8_t> back(40);
  auto read = pread_all(fd.get(), 50, back);
  CHECK(read.error == 0);
  CHECK(back == bytes);

  std::vector<uint8_t> past(20);
  auto short_read = pread_all(fd.get(), 90, past);
  CHECK(short_read.error == positional_io::end_of_file);
  CHECK(short_read.at == 100); // 10 bytes were there
  CHECK(describe(short_read) == "unexpected end of file");

  auto bad = pread_all(-1, 0, past);
  CHECK(bad.error == EBADF);
  CHECK(describe(bad) == std::strerror(EBADF));
}

TEST_CASE("a read takes a file up to its limit and names one past it") {
  test::temp_dir dir;
  auto path = dir.path("f");
  std::vector<uint8_t> bytes(10000, 0x5a);
  REQUIRE_FALSE(write_file_atomic(path, bytes, 0644, on_existing::replace, "file"));
  auto exact = read_file(path, 10000, "file");
  REQUIRE(exact);
  CHECK(*exact == bytes);
  auto over = read_file(path, 9999, "file");
  REQUIRE_FALSE(over);
  CHECK(describe(over.error()) == "file " + path + ": larger than the limit of 9999 bytes");
}

TEST_CASE("a read does not trust the size the file system reports") {
  // /proc files report a size of 0 and still hold bytes; smaps holds more than the first 4 KiB
  // buffer, so the buffer must grow, several times, to take it whole.
  auto smaps = read_file("/proc/self/smaps", 16 << 20, "smaps");
  REQUIRE(smaps);
  CHECK(smaps->size() > 16384);
  CHECK(smaps->back() == '\n');
}
