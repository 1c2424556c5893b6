#include <catch2/catch.hpp>

#include <fstream>

#include "hal/boot_console.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

void append(const std::string& path, const std::string& text) {
  std::ofstream{path, std::ios::app | std::ios::binary} << text;
}

const std::vector<std::string> patterns{"UEFI Interactive Shell", "login:"};

} // namespace

TEST_CASE("a boot that shows a success pattern is booted, even split across reads") {
  test::temp_dir dir;
  auto log = dir.path("console.log");
  append(log, "an earlier boot: UEFI Interactive Shell\n");
  auto offset = console_size(log);
  boot_console_watch w{log, offset, patterns};
  CHECK_FALSE(w.poll()); // the earlier boot's line is before the offset
  append(log, "\x1b[2J BdsDxe: loading Boot0001\nUEFI Inter");
  CHECK_FALSE(w.poll());
  append(log, "active Shell v2.2\n");
  CHECK(w.poll());
  auto v = w.verdict();
  CHECK(v.outcome == boot_outcome::booted);
  CHECK(v.matched == "UEFI Interactive Shell");
}

TEST_CASE("no output and output without a pattern are told apart") {
  test::temp_dir dir;
  auto log = dir.path("console.log");
  boot_console_watch silent{log, 0, patterns};
  CHECK_FALSE(silent.poll()); // no log at all yet
  CHECK(silent.verdict().outcome == boot_outcome::no_output);

  append(log, "PXE-E18: Server response timeout.\r\nNo bootable device.\r\n");
  boot_console_watch stuck{log, 0, patterns};
  CHECK_FALSE(stuck.poll());
  auto v = stuck.verdict();
  CHECK(v.outcome == boot_outcome::no_pattern);
  CHECK(v.last_line == "No bootable device.");
  CHECK(v.bytes_seen > 0);
}

TEST_CASE("a flood of console output is read in bounded polls") {
  test::temp_dir dir;
  auto log = dir.path("console.log");
  std::string line(1023, 'x');
  line += '\n';
  std::string mib;
  for (int i = 0; i < 1024; ++i)
    mib += line;
  for (int i = 0; i < 6; ++i)
    append(log, mib);
  append(log, "login: ");
  boot_console_watch w{log, 0, patterns};
  // 4 MiB per poll at most: the pattern after 6 MiB is found by the second poll.
  CHECK_FALSE(w.poll());
  CHECK(w.poll());
  CHECK(w.verdict().matched == "login:");
  CHECK(w.verdict().last_line.size() <= 120);
}
