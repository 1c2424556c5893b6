#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <unistd.h>

#include "common/error.hpp"
#include "hal/host_power/detached_process.hpp"
#include "hal/host_power/qemu.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;
using namespace std::chrono_literals;

namespace {

constexpr const char* ovmf = "/usr/share/OVMF/OVMF_CODE_4M.fd";

/// Options for a host in `dir` booting a copy of Debian's OVMF (or, without it, a blank
/// firmware: the fault cases never run it).
qemu_host_options options_in(const test::temp_dir& dir) {
  qemu_host_options o;
  o.state_dir = dir.path("");
  o.firmware = dir.path("flash.fd");
  if (std::filesystem::exists(ovmf))
    std::filesystem::copy_file(ovmf, o.firmware,
                                std::filesystem::copy_options::overwrite_existing);
  else
    test::write_bytes(o.firmware, std::vector<uint8_t>(1 << 20, 0xff));
  o.vars_template = dir.path("vars-template.fd");
  test::write_bytes(o.vars_template, std::vector<uint8_t>(540672, 0));
  o.start_timeout = 5000ms;
  o.powerdown_timeout = 200ms;
  o.qmp_timeout = 2000ms;
  return o;
}

std::unique_ptr<qemu_host_power> open_host(qemu_host_options o) {
  auto host = qemu_host_power::open(std::move(o));
  REQUIRE(host);
  return std::move(*host);
}

std::unique_ptr<qemu_host_power> fake(const test::temp_dir& dir, const char* mode,
                                      std::chrono::milliseconds start, std::chrono::milliseconds qmp) {
  auto o = options_in(dir);
  o.binary = FAKE_QEMU;
  o.extra_args = {"-fake", mode};
  o.start_timeout = start;
  o.qmp_timeout = qmp;
  return open_host(std::move(o));
}

bool have_qemu() {
  return std::filesystem::exists(ovmf) && ::system("command -v qemu-system-x86_64 >/dev/null") == 0;
}

template <class F>
std::chrono::milliseconds timed(F&& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                               - start);
}

} // namespace

TEST_CASE("a QEMU binary that cannot be run is a one-line error and the host stays off") {
  test::temp_dir dir;
  auto o = options_in(dir);
  o.binary = "/nonexistent/qemu-system-x86_64";
  auto host = open_host(std::move(o));
  auto err = host->power_on();
  REQUIRE(err);
  CHECK(describe(err) == "host qemu: QEMU did not start: cannot run "
                         "'/nonexistent/qemu-system-x86_64': No such file or directory");
  auto s = host->state();
  REQUIRE(s);
  CHECK(*s == power_state::off);
}

TEST_CASE("a QEMU that fails to start: its own message is in the error") {
  test::temp_dir dir;
  auto host = fake(dir, "fail", 5000ms, 2000ms);
  auto err = describe(host->power_on());
  CHECK_THAT(err, Catch::Contains("(exit status 1)"));
  CHECK_THAT(err, Catch::Contains("Could not open '/nowhere'"));
  CHECK(err.find('\n') == std::string::npos);
  CHECK(*host->state() == power_state::off);
}

TEST_CASE("a QEMU start that does not finish is ended at its deadline") {
  test::temp_dir dir;
  auto host = fake(dir, "hang", 300ms, 2000ms);
  caf::error err;
  auto took = timed([&] { err = host->power_on(); });
  CHECK_THAT(describe(err), Catch::Contains("did not start within 300 ms"));
  CHECK(took < 3000ms);
  CHECK(*host->state() == power_state::off);
}

TEST_CASE("a QMP socket that does not answer: every call has a deadline, and power-off still "
          "ends QEMU") {
  test::temp_dir dir;
  auto host = fake(dir, "silent", 5000ms, 300ms);
  caf::error err;
  auto took = timed([&] { err = host->power_on(); });
  CHECK_THAT(describe(err), Catch::Contains("no answer within 300 ms"));
  CHECK(took < 3000ms);
  auto pid = read_pid_file(dir.path("host_qemu.pid"));
  REQUIRE(pid);
  auto s = host->state();
  REQUIRE_FALSE(s);
  CHECK_THAT(describe(s.error()), Catch::Contains("runs but does not answer"));
  CHECK_FALSE(host->hold_reset() == caf::none);
  CHECK(host->power_off() == caf::none);
  CHECK_FALSE(process_alive(*pid, dir.path("host_qmp.sock")));
  CHECK(*host->state() == power_state::off);
}

TEST_CASE("the qemu backend refuses firmware it cannot boot, before starting anything") {
  test::temp_dir dir;
  auto o = options_in(dir);
  o.firmware = dir.path("missing.fd");
  auto missing = qemu_host_power::open(o);
  REQUIRE_FALSE(missing);
  CHECK_THAT(describe(missing.error()), Catch::Contains("not a readable regular file"));
  o = options_in(dir);
  test::write_bytes(dir.path("odd.fd"), std::vector<uint8_t>(5000, 0xff));
  o.firmware = dir.path("odd.fd");
  auto odd = qemu_host_power::open(o);
  REQUIRE_FALSE(odd);
  CHECK_THAT(describe(odd.error()), Catch::Contains("not a non-zero multiple of 4096"));
  o.firmware_offset = 8192;
  auto past = qemu_host_power::open(o);
  REQUIRE_FALSE(past);
  CHECK_THAT(describe(past.error()), Catch::Contains("past its end"));
  o = options_in(dir);
  o.state_dir = dir.path(std::string(120, 'd'));
  std::filesystem::create_directories(o.state_dir);
  auto long_path = qemu_host_power::open(o);
  REQUIRE_FALSE(long_path);
  CHECK_THAT(describe(long_path.error()), Catch::Contains("longer than a unix socket allows"));
}

TEST_CASE("a real QEMU host: on, held in reset, released, reset and off, each read back") {
  if (!have_qemu()) {
    WARN("qemu-system-x86_64 or OVMF is missing (scripts/install-deps installs them)");
    return;
  }
  test::temp_dir dir;
  auto host = open_host(options_in(dir));
  // Whatever fails below, no QEMU outlives the test.
  struct end_qemu {
    std::string pid_file, socket;
    ~end_qemu() {
      if (auto pid = read_pid_file(pid_file))
        (void) end_process(*pid, socket, 1000ms);
    }
  } guard{dir.path("host_qemu.pid"), dir.path("host_qmp.sock")};
  CHECK(*host->state() == power_state::off);
  REQUIRE(host->power_on() == caf::none);
  CHECK(*host->state() == power_state::on);
  auto first = read_pid_file(dir.path("host_qemu.pid"));
  REQUIRE(first);
  CHECK(host->console_log() == dir.path("host_console.log"));
  CHECK(std::filesystem::exists(dir.path("host_vars.fd")));

  // A second backend object (a restarted daemon) finds the running host by its pid file.
  auto again = open_host(options_in(dir));
  CHECK(*again->state() == power_state::on);
  CHECK(again->power_on() == caf::none);
  CHECK(read_pid_file(dir.path("host_qemu.pid")) == first);

  auto held = host->hold_reset();
  INFO(describe(held));
  REQUIRE(held == caf::none);
  CHECK(*host->state() == power_state::reset_held);
  CHECK_THAT(describe(host->power_on()), Catch::Contains("held in reset"));
  CHECK_THAT(describe(host->reset()), Catch::Contains("held in reset"));
  // Released: QEMU restarts, so the host reads its (maybe rewritten) flash again.
  REQUIRE(host->release_reset() == caf::none);
  CHECK(*host->state() == power_state::on);
  auto second = read_pid_file(dir.path("host_qemu.pid"));
  REQUIRE(second);
  CHECK(second != first);
  CHECK_FALSE(process_alive(*first, dir.path("host_qmp.sock")));
  REQUIRE(host->reset() == caf::none);
  auto third = read_pid_file(dir.path("host_qemu.pid"));
  REQUIRE(third);
  CHECK(third != second);
  CHECK(*host->state() == power_state::on);

  // The UEFI firmware ignores the power button: QEMU is ended after powerdown_timeout.
  REQUIRE(host->power_off() == caf::none);
  CHECK(*host->state() == power_state::off);
  CHECK_FALSE(process_alive(*third, dir.path("host_qmp.sock")));
  CHECK_THAT(describe(host->hold_reset()), Catch::Contains("the host is off"));
  CHECK(host->power_off() == caf::none);

  // Ended behind the daemon's back: read back as off, never assumed on.
  REQUIRE(host->power_on() == caf::none);
  auto fourth = read_pid_file(dir.path("host_qemu.pid"));
  REQUIRE(fourth);
  ::kill(*fourth, SIGKILL);
  CHECK(wait_gone(*fourth, dir.path("host_qmp.sock"), 2000ms));
  CHECK(*host->state() == power_state::off);
}
