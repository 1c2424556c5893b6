#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "hal/host_power/sim.hpp"
#include "tests/fakes/fake_host_power.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

power_state state_of(host_power& h) {
  auto s = h.state();
  REQUIRE(s);
  return *s;
}

std::string file_text(const std::string& path) {
  auto bytes = read_file(path, 100, "state");
  REQUIRE(bytes);
  return {bytes->begin(), bytes->end()};
}

} // namespace

TEST_CASE("power states have stable names") {
  CHECK(std::string{to_string(power_state::off)} == "off");
  CHECK(std::string{to_string(power_state::on)} == "on");
  CHECK(std::string{to_string(power_state::reset_held)} == "reset_held");
}

TEST_CASE("the simulated host follows power and reset transitions") {
  sim_host_power h{"", power_state::off};
  CHECK(state_of(h) == power_state::off);

  auto held_while_off = h.hold_reset();
  REQUIRE(held_while_off);
  CHECK(has_code(held_while_off, errc::invalid_argument));
  CHECK_THAT(describe(held_while_off), Catch::Contains("host is off"));
  CHECK(h.release_reset());
  CHECK(state_of(h) == power_state::off);

  REQUIRE_FALSE(h.power_on());
  CHECK(state_of(h) == power_state::on);
  REQUIRE_FALSE(h.power_on());
  CHECK(state_of(h) == power_state::on);

  REQUIRE_FALSE(h.hold_reset());
  CHECK(state_of(h) == power_state::reset_held);
  CHECK(h.power_on());
  CHECK(state_of(h) == power_state::reset_held);
  REQUIRE_FALSE(h.release_reset());
  CHECK(state_of(h) == power_state::on);

  REQUIRE_FALSE(h.hold_reset());
  REQUIRE_FALSE(h.power_off());
  CHECK(state_of(h) == power_state::off);
}

TEST_CASE("the simulated host's state survives into a new instance through its file") {
  test::temp_dir dir;
  auto path = dir.path("host.state");
  {
    sim_host_power h{path, power_state::on};
    // A fresh file records the initial state so an observer sees it before any change.
    CHECK(file_text(path) == "on\n");
    REQUIRE_FALSE(h.hold_reset());
    CHECK(file_text(path) == "reset_held\n");
  }
  sim_host_power again{path, power_state::off};
  CHECK(state_of(again) == power_state::reset_held);
  REQUIRE_FALSE(again.power_off());
  sim_host_power third{path, power_state::on};
  CHECK(state_of(third) == power_state::off);
  // Only the state file, no temporaries beside it.
  CHECK(std::distance(std::filesystem::directory_iterator{dir.path("")},
                      std::filesystem::directory_iterator{})
        == 1);
}

TEST_CASE("a state file with an unknown word is reported, not replaced") {
  test::temp_dir dir;
  auto path = dir.path("host.state");
  test::write_bytes(path, {'o', 'n', 'n', '\n'});
  auto opened = sim_host_power::open(path, power_state::on);
  REQUIRE_FALSE(opened);
  CHECK(has_code(opened.error(), errc::malformed));
  CHECK_THAT(describe(opened.error()), Catch::Contains(path) && Catch::Contains("'onn'"));
  sim_host_power h{path, power_state::on};
  CHECK_FALSE(h.state());
  CHECK(h.power_off());
  CHECK(file_text(path) == "onn\n");
}

TEST_CASE("the fake host power records commands and follows the same rules") {
  test::fake_host_power fake{power_state::on};
  REQUIRE_FALSE(fake.hold_reset());
  CHECK(fake.power_on());
  REQUIRE_FALSE(fake.release_reset());
  fake.fail_next("power_off");
  auto failed = fake.power_off();
  REQUIRE(failed);
  CHECK(has_code(failed, errc::io_failure));
  CHECK(fake.current() == power_state::on);
  REQUIRE_FALSE(fake.power_off());
  CHECK(fake.current() == power_state::off);
  CHECK(fake.calls()
        == std::vector<std::string>{"hold_reset", "power_on", "release_reset", "power_off",
                                    "power_off"});
  CHECK(state_of(fake) == power_state::off);
  CHECK(fake.state_queries() == 1);
}
