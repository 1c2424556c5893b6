// fwrescue-icmb-bus end to end: the program runs, the test opens the ptys it makes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/temp_dir.hpp"
#include "tests/tools/icmb_bus_runner.hpp"

using fwrescue::test::bus_node;
using fwrescue::test::icmb_bus_process;
using fwrescue::test::parse_stats;
using fwrescue::test::read_line;
using fwrescue::test::temp_dir;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> bus_args(const temp_dir& dir, int nodes, const std::string& baud,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--baud", baud};
  for (int i = 0; i < nodes; ++i) {
    args.push_back("--link");
    args.push_back(dir.path("node" + std::to_string(i)));
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::vector<uint8_t> all_byte_values() {
  std::vector<uint8_t> v(256);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<uint8_t>(i);
  return v;
}

// Waits until the stats file shows every sent byte accounted for: `senders` bytes leave per
// collision, one per clean slot.
std::vector<uint64_t> wait_stats(const std::string& path, uint64_t sent, uint64_t senders) {
  for (int i = 0; i < 600; ++i) {
    auto c = parse_stats(read_line(path));
    if (c.size() == 4 && c[0] + senders * c[1] >= sent)
      return c;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {};
}

} // namespace

TEST_CASE("every byte reaches every node, the sender included") {
  temp_dir dir;
  icmb_bus_process bus(bus_args(dir, 3, "115200"));
  REQUIRE(bus.wait_ready());
  bus_node n0(dir.path("node0")), n1(dir.path("node1")), n2(dir.path("node2"));
  auto sent = all_byte_values();
  n1.send(sent);
  CHECK(n0.receive(sent.size()) == sent);
  CHECK(n1.receive(sent.size()) == sent);
  CHECK(n2.receive(sent.size()) == sent);
  REQUIRE(bus.stop() == 0);
  CHECK(parse_stats(bus.out()) == std::vector<uint64_t>{256, 0, 0, 0});
}

TEST_CASE("two nodes sending at once garble the bytes at every node") {
  temp_dir dir;
  auto stats = dir.path("stats");
  icmb_bus_process bus(bus_args(dir, 3, "9600", {"--stats", stats}));
  REQUIRE(bus.wait_ready());
  bus_node n0(dir.path("node0")), n1(dir.path("node1")), n2(dir.path("node2"));
  n0.send(std::vector<uint8_t>(64, 0x55));
  n1.send(std::vector<uint8_t>(64, 0xaa));
  auto c = wait_stats(stats, 128, 2);
  REQUIRE(c.size() == 4);
  CHECK(c[1] > 0);
  auto slots = c[0] + c[1];
  auto seen = n2.receive(slots);
  REQUIRE(seen.size() == slots);
  auto garbled =
    std::count_if(seen.begin(), seen.end(), [](uint8_t b) { return b != 0x55 && b != 0xaa; });
  // A garbled byte never equals a sender's, and a clean one always does (no bit errors here).
  CHECK(static_cast<uint64_t>(garbled) == c[1]);
  CHECK(n0.receive(slots) == seen);
  CHECK(n1.receive(slots) == seen);
  CHECK(bus.stop() == 0);
}

TEST_CASE("bytes are never faster than the baud") {
  temp_dir dir;
  icmb_bus_process bus(bus_args(dir, 2, "9600"));
  REQUIRE(bus.wait_ready());
  bus_node n0(dir.path("node0")), n1(dir.path("node1"));
  std::vector<uint8_t> sent(300, 0x42);
  auto start = std::chrono::steady_clock::now();
  n0.send(sent);
  auto seen = n1.receive(sent.size());
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  REQUIRE(seen == sent);
  // 300 bytes of 10 bits at 9600 baud: at least 0.3125 s, however fast the machine.
  CHECK(took.count() >= 300 * 10 / 9600.0);
  CHECK(bus.stop() == 0);
}

namespace {

// Sends zeros from node0 in chunks and returns what node1 saw (node0's echo is drained too).
std::vector<uint8_t> noisy_transfer(const std::string& seed, uint64_t* flips_counted) {
  temp_dir dir;
  icmb_bus_process bus(bus_args(dir, 2, "1000000", {"--bit-error-rate", "0.01", "--seed", seed}));
  REQUIRE(bus.wait_ready());
  bus_node n0(dir.path("node0")), n1(dir.path("node1"));
  std::vector<uint8_t> seen;
  std::vector<uint8_t> chunk(500, 0);
  for (int i = 0; i < 8; ++i) {
    n0.send(chunk);
    n0.receive(chunk.size());
    auto got = n1.receive(chunk.size());
    seen.insert(seen.end(), got.begin(), got.end());
  }
  REQUIRE(bus.stop() == 0);
  auto c = parse_stats(bus.out());
  REQUIRE(c.size() == 4);
  *flips_counted = c[2];
  return seen;
}

} // namespace

TEST_CASE("a bit-error rate flips about its share of bits, repeatably for a seed") {
  uint64_t counted = 0;
  auto seen = noisy_transfer("7", &counted);
  REQUIRE(seen.size() == 4000);
  uint64_t ones = 0;
  for (auto b : seen)
    ones += static_cast<uint64_t>(__builtin_popcount(b));
  // 32000 bits at 1%: 320 expected, standard deviation about 18.
  CHECK(ones == counted);
  CHECK(ones > 160);
  CHECK(ones < 640);
  uint64_t again = 0;
  CHECK(noisy_transfer("7", &again) == seen);
  uint64_t other = 0;
  CHECK(noisy_transfer("8", &other) != seen);
}

TEST_CASE("links are symlinks to ptys while the bus runs and are removed when it stops") {
  temp_dir dir;
  // A symlink left by an earlier run is replaced.
  fs::create_symlink("/dev/pts/nonexistent", dir.path("node0"));
  icmb_bus_process bus(bus_args(dir, 2, "9600"));
  REQUIRE(bus.wait_ready());
  for (auto name : {"node0", "node1"}) {
    CHECK(fs::is_symlink(dir.path(name)));
    CHECK(fs::is_character_file(dir.path(name)));
  }
  CHECK(bus.stop() == 0);
  CHECK(parse_stats(bus.out()).size() == 4);
  CHECK_FALSE(fs::exists(fs::symlink_status(dir.path("node0"))));
  CHECK_FALSE(fs::exists(fs::symlink_status(dir.path("node1"))));
}

TEST_CASE("a link path holding anything but a symlink is left alone") {
  temp_dir dir;
  std::ofstream(dir.path("node1")) << "precious\n";
  icmb_bus_process bus(bus_args(dir, 2, "9600"));
  CHECK(bus.wait_exit() == 1);
  CHECK(std::count(bus.err().begin(), bus.err().end(), '\n') == 1);
  CHECK(bus.err().find("node1") != std::string::npos);
  CHECK(read_line(dir.path("node1")) == "precious");
  // The link made before the refusal is gone again.
  CHECK_FALSE(fs::exists(fs::symlink_status(dir.path("node0"))));
}

TEST_CASE("bad arguments exit 2 with one line") {
  temp_dir dir;
  auto a = dir.path("a"), b = dir.path("b");
  std::vector<std::string> many{"--baud", "9600"};
  for (int i = 0; i < 65; ++i) {
    many.push_back("--link");
    many.push_back(dir.path("n" + std::to_string(i)));
  }
  std::vector<std::vector<std::string>> cases{
    {},
    {"--link", a, "--link", b},
    {"--baud", "0", "--link", a, "--link", b},
    {"--baud", "fast", "--link", a, "--link", b},
    {"--baud", "9600x", "--link", a, "--link", b},
    {"--baud", "9600", "--link", a},
    {"--baud", "9600", "--link", a, "--link", a},
    {"--baud", "9600", "--link", a, "--link", b, "--bit-error-rate", "1.5"},
    {"--baud", "9600", "--link", a, "--link", b, "--bit-error-rate", "nan"},
    {"--baud", "9600", "--link", a, "--link", b, "--seed", "-1"},
    {"--baud", "9600", "--link", a, "--link", b, "--colour", "blue"},
    {"--baud", "9600", "--link", a, "--link", b, "--stats"},
    many,
  };
  for (const auto& args : cases) {
    icmb_bus_process bus(args);
    CHECK(bus.wait_exit() == 2);
    CHECK(std::count(bus.err().begin(), bus.err().end(), '\n') == 1);
    CHECK(bus.out().empty());
    CHECK_FALSE(fs::exists(fs::symlink_status(a)));
  }
}

TEST_CASE("a node closing and reopening its end keeps working") {
  temp_dir dir;
  icmb_bus_process bus(bus_args(dir, 2, "115200"));
  REQUIRE(bus.wait_ready());
  bus_node n0(dir.path("node0")), n1(dir.path("node1"));
  n1.close();
  // The bus carries on while node1 is away, node0 still hears itself.
  n0.send({1, 2, 3});
  CHECK(n0.receive(3) == std::vector<uint8_t>{1, 2, 3});
  n1.reopen();
  // node0's echo can come a moment before the same bytes reach node1's pty: let them land
  // before they are thrown away.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  n1.discard_input();
  n1.send({4, 5});
  CHECK(n0.receive(2) == std::vector<uint8_t>{4, 5});
  CHECK(n1.receive(2) == std::vector<uint8_t>{4, 5});
  n0.close();
  n0.reopen();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  n0.discard_input();
  n1.send({6});
  CHECK(n0.receive(1) == std::vector<uint8_t>{6});
  CHECK(bus.stop() == 0);
}
