#include "tests/actors/actor_fixture.hpp"

#include "actors/supervisor.hpp"
#include "common/error.hpp"

using namespace fwrescue;
using namespace fwrescue::test;
using namespace std::chrono_literals;

namespace {

using fail_atom = caf::atom_constant<caf::atom("fail")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

/// What the test children did, across restarts.
struct children_log {
  int started = 0;
  int holds = 0;
  /// start messages received, and how many of them came when both roles were registered.
  int starts = 0;
  int starts_with_all_registered = 0;
};

/// A child that fails on `fail` (as an actor whose handler hit an error does), stops normally
/// on `stop`, and counts the safe holds it is told about.
caf::behavior test_child(caf::event_based_actor* self, std::shared_ptr<children_log> log) {
  ++log->started;
  return {
    [=](fail_atom) { self->quit(make_error(errc::io_failure, "test child: injected failure")); },
    [=](stop_atom) { self->quit(caf::exit_reason::user_shutdown); },
    [=](hold_atom) { ++log->holds; },
    [=](start_atom) {
      ++log->starts;
      if (find_role(self->system(), roles::coordinator) && find_role(self->system(), roles::flasher))
        ++log->starts_with_all_registered;
    },
  };
}

/// A supervisor of two children (as coordinator and flasher) allowing 2 restarts a minute.
struct supervisor_fixture : actor_fixture {
  std::shared_ptr<children_log> coord_log = std::make_shared<children_log>();
  std::shared_ptr<children_log> flasher_log = std::make_shared<children_log>();
  caf::actor sup;

  supervisor_fixture() {
    std::vector<child_spec> specs{
      {roles::coordinator, [log = coord_log](caf::actor_system& s) { return spawn_child(s, log); }},
      {roles::flasher, [log = flasher_log](caf::actor_system& s) { return spawn_child(s, log); }},
    };
    sup = sys.spawn(supervisor, std::move(specs), uint32_t{2}, std::chrono::seconds(60), ctx->log);
    spawned.push_back(sup);
    run();
  }

  static caf::actor spawn_child(caf::actor_system& s, std::shared_ptr<children_log> log) {
    return s.spawn(test_child, std::move(log));
  }

  caf::actor coordinator_now() {
    auto a = find_role(sys, roles::coordinator);
    REQUIRE(a);
    spawned.push_back(a);
    return a;
  }

  /// Makes whatever is registered as the coordinator fail.
  void fail_coordinator() {
    caf::anon_send(coordinator_now(), fail_atom::value);
    run();
  }

  bool in_safe_hold() {
    return ask<bool>(sup, hold_atom::value);
  }
};

} // namespace

TEST_CASE_METHOD(supervisor_fixture, "children are started and registered under their roles") {
  CHECK(coord_log->started == 1);
  CHECK(flasher_log->started == 1);
  // Each is told to start once, after every role is registered.
  CHECK(coord_log->starts == 1);
  CHECK(coord_log->starts_with_all_registered == 1);
  CHECK(flasher_log->starts == 1);
  CHECK(flasher_log->starts_with_all_registered == 1);
  CHECK(find_role(sys, roles::coordinator));
  CHECK(find_role(sys, roles::flasher));
  CHECK_FALSE(in_safe_hold());
}

TEST_CASE_METHOD(supervisor_fixture, "a failed child is restarted and found again by role") {
  auto first = coordinator_now();
  fail_coordinator();
  CHECK(coord_log->started == 2);
  CHECK(coord_log->starts == 2); // the replacement is told to start (it resumes the journal)
  CHECK(coord_log->starts_with_all_registered == 2);
  CHECK(flasher_log->starts == 1);
  auto second = coordinator_now();
  CHECK(second != first);
  // The replacement is the one messages reach: it can fail, and be replaced, in turn.
  fail_coordinator();
  CHECK(coord_log->started == 3);
  CHECK(coordinator_now() != second);
  CHECK(flasher_log->started == 1); // one for one
  CHECK_FALSE(in_safe_hold());
}

TEST_CASE_METHOD(supervisor_fixture, "a child that stops normally is not restarted") {
  caf::anon_send(coordinator_now(), stop_atom::value);
  run();
  CHECK(coord_log->started == 1);
  CHECK_FALSE(in_safe_hold());
}

TEST_CASE_METHOD(supervisor_fixture, "a restart storm puts the node in safe hold") {
  fail_coordinator();
  fail_coordinator();
  CHECK(coord_log->started == 3);
  CHECK(flasher_log->holds == 0);
  fail_coordinator(); // the third restart within a minute is one too many
  CHECK(coord_log->started == 3);
  CHECK(in_safe_hold());
  CHECK(flasher_log->holds == 1); // the surviving child is told: no flash writes
  // Nothing is restarted any more.
  caf::anon_send(find_role(sys, roles::flasher), fail_atom::value);
  run();
  CHECK(flasher_log->started == 1);
}

TEST_CASE_METHOD(supervisor_fixture, "restarts spread out over more than the window are fine") {
  for (int i = 0; i < 5; ++i) {
    fail_coordinator();
    advance(31s);
  }
  CHECK(coord_log->started == 6);
  CHECK_FALSE(in_safe_hold());
}
