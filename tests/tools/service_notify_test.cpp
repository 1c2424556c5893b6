// The daemon's side of systemd's notify protocol: what it sends, and the watchdog keeper that
// sends keep-alives only while the actors answer.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "actors/supervisor.hpp"
#include "common/error.hpp"
#include "messages/node_events.hpp"
#include "tests/fakes/fake_notify_sink.hpp"
#include "tools/fwrescued/service_notify.hpp"

using namespace fwrescue;
using namespace std::chrono_literals;
using fwrescue::test::fake_notify_sink;

namespace {

auto quiet_log() {
  return std::make_shared<logger>("test", log_level::error, false);
}

/// A coordinator that answers pings.
caf::behavior answering_coordinator(caf::event_based_actor*, int) {
  return {
    [](start_atom) {},
    [](ping_atom) { return ping_atom::value; },
  };
}

/// A coordinator whose mailbox is read but whose pings are never answered, as when the work
/// they wait behind never ends.
struct wedged_state {
  std::vector<caf::response_promise> held;
};
caf::behavior wedged_coordinator(caf::stateful_actor<wedged_state>* self, int) {
  return {
    [](start_atom) {},
    [=](ping_atom) {
      auto promise = self->make_response_promise();
      self->state.held.push_back(promise);
      return promise;
    },
  };
}

/// A coordinator that fails as soon as it starts.
caf::behavior failing_coordinator(caf::event_based_actor* self, int) {
  return {
    [=](start_atom) { self->quit(make_error(errc::io_failure, "test: injected failure")); },
  };
}

/// A real actor system (the probe blocks on a scoped actor, as the daemon's does) with a
/// supervisor over one coordinator.
struct probe_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor sup;

  template <class Behavior>
  void start(Behavior coordinator, uint32_t max_restarts = 5) {
    std::vector<child_spec> specs{
      // The argument is there for CAF 0.17: spawning a function actor with no argument reads
      // through an empty pointer (UBSan reports it), so the stand-ins take one they ignore.
      {roles::coordinator, [=](caf::actor_system& s) { return s.spawn(coordinator, 0); }}};
    sup =
      sys.spawn(supervisor, std::move(specs), max_restarts, std::chrono::seconds(60), quiet_log());
  }

  ~probe_fixture() {
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    if (auto coord = find_role(sys, roles::coordinator))
      caf::anon_send_exit(coord, caf::exit_reason::kill);
    sys.registry().erase(roles::coordinator);
  }

  bool in_safe_hold() {
    caf::scoped_actor self{sys};
    bool hold = false;
    self->request(sup, 1s, hold_atom::value).receive([&](bool h) { hold = h; }, [](caf::error&) {});
    return hold;
  }
};

} // namespace

TEST_CASE("readiness, reloads and shutdown are told in systemd's words") {
  fake_notify_sink sink;
  notify_ready(sink, "peer node bmc-a: bios up\nsecond line");
  notify_reloading(sink);
  notify_stopping(sink);
  auto sent = sink.sent();
  REQUIRE(sent.size() == 3);
  // STATUS= holds one line: a newline in it would start an assignment of its own.
  CHECK(sent[0] == "READY=1\nSTATUS=peer node bmc-a: bios up second line");
  CHECK(sent[1].rfind("RELOADING=1\n", 0) == 0);
  CHECK(sent[2].rfind("STOPPING=1\n", 0) == 0);
}

TEST_CASE("the keeper sends keep-alives at its period while the probe passes") {
  fake_notify_sink sink;
  std::atomic<int> probes{0};
  {
    watchdog_keeper keeper{sink,
                           [&]() -> caf::error {
                             ++probes;
                             return caf::none;
                           },
                           20ms, quiet_log()};
    CHECK(sink.wait_for("WATCHDOG=1", 3, 5s));
  }
  // Once per probe, and nothing else.
  CHECK(sink.count("WATCHDOG=1") == static_cast<size_t>(probes.load()));
  CHECK(sink.sent().size() == sink.count("WATCHDOG=1"));
}

TEST_CASE("the keeper sends no keep-alive while the probe fails, and resumes when it passes") {
  fake_notify_sink sink;
  std::atomic<bool> wedged{true};
  std::atomic<int> probes{0};
  watchdog_keeper keeper{sink,
                         [&]() -> caf::error {
                           ++probes;
                           if (wedged)
                             return make_error(errc::io_failure, "test: no answer");
                           return caf::none;
                         },
                         20ms, quiet_log()};
  // A failed probe is retried sooner than the period: several tries, no keep-alive.
  auto until = std::chrono::steady_clock::now() + 5s;
  while (probes < 5 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  REQUIRE(probes >= 5);
  CHECK(sink.count("WATCHDOG=1") == 0);
  wedged = false;
  CHECK(sink.wait_for("WATCHDOG=1", 1, 5s));
}

TEST_CASE("the probe passes when the supervisor and the coordinator answer") {
  probe_fixture f;
  f.start(answering_coordinator);
  auto probe = actor_probe(f.sys, f.sup, {"bios"}, 2000ms);
  CHECK_FALSE(probe());
}

TEST_CASE("the probe fails, naming the target, when its coordinator does not answer in time") {
  probe_fixture f;
  f.start(wedged_coordinator);
  auto probe = actor_probe(f.sys, f.sup, {"bios"}, 200ms);
  auto started = std::chrono::steady_clock::now();
  auto err = probe();
  REQUIRE(err);
  CHECK(describe(err).find("the coordinator of bios did not answer within 200 ms")
        != std::string::npos);
  // The deadline ends the wait.
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("the probe fails when a target has no coordinator registered") {
  probe_fixture f;
  f.start(answering_coordinator);
  auto probe = actor_probe(f.sys, f.sup, {"bios", "nic0"}, 500ms);
  auto err = probe();
  REQUIRE(err);
  CHECK(describe(err).find("the coordinator of nic0 is not running") != std::string::npos);
}

TEST_CASE("in safe hold only the supervisor is asked: its dead coordinator stays down") {
  probe_fixture f;
  // No restart allowed: the first failure is a storm.
  f.start(failing_coordinator, 0);
  auto until = std::chrono::steady_clock::now() + 5s;
  while (!f.in_safe_hold() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  REQUIRE(f.in_safe_hold());
  auto probe = actor_probe(f.sys, f.sup, {"bios"}, 500ms);
  CHECK_FALSE(probe());
}

TEST_CASE("the probe fails when the supervisor is gone") {
  probe_fixture f;
  f.start(answering_coordinator);
  caf::anon_send_exit(f.sup, caf::exit_reason::kill);
  auto probe = actor_probe(f.sys, f.sup, {"bios"}, 500ms);
  // Let the exit land first: a dead actor answers a request with an error at once.
  auto until = std::chrono::steady_clock::now() + 5s;
  caf::error err;
  do {
    err = probe();
  } while (!err && std::chrono::steady_clock::now() < until);
  REQUIRE(err);
  CHECK(describe(err).find("the supervisor did not answer") != std::string::npos);
}
