// The task book: one task per recovery, told apart by the coordinator's recovery number, whoever
// started it, with its state, progress and messages taken from the target's status.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "frontends/redfish/task_book.hpp"

using namespace fwrescue::redfish;
using json = nlohmann::ordered_json;

namespace {

json running(uint64_t number, const char* phase, uint64_t percent) {
  return {{"state", phase},
          {"recoveries", number},
          {"recovery", {{"number", number}, {"reason", "flash damaged"}}},
          {"progress", {{"phase", phase}, {"percent", percent}}}};
}

json finished(uint64_t number, bool ok, const char* detail) {
  return {{"state", ok ? "done" : "failed"},
          {"recoveries", number},
          {"last_recovery",
           {{"number", number}, {"succeeded", ok}, {"detail", detail}, {"finished_at", 1000}}}};
}

} // namespace

TEST_CASE("a recovery the daemon started by itself gets a task that follows it", "[unit]") {
  task_book book{32};
  book.observe(0, "bios", json{{"state", "idle"}, {"recoveries", 0}}, 10);
  CHECK(book.tasks().empty());
  book.observe(0, "bios", running(1, "transferring", 50), 11);
  REQUIRE(book.tasks().size() == 1);
  const auto& t = book.tasks().front();
  CHECK(t.id == 1);
  CHECK(t.number == 1);
  CHECK(t.state == "Running");
  CHECK(t.reason == "flash damaged");
  CHECK(t.percent == 5 + 55 * 50 / 100);
  book.observe(0, "bios", running(1, "flashing", 100), 12);
  CHECK(t.percent == 95);
  book.observe(0, "bios", finished(1, true, "verified"), 13);
  CHECK(t.state == "Completed");
  CHECK(t.status == "OK");
  CHECK(t.percent == 100);
  CHECK(t.end_time == 1000);
  REQUIRE(t.messages.size() == 2);
  CHECK(t.messages[0].id == "TaskEvent.1.0.TaskStarted");
  CHECK(t.messages[1].id == "TaskEvent.1.0.TaskCompletedOK");
}

TEST_CASE("a failed recovery's task ends in Exception with the reason", "[unit]") {
  task_book book{32};
  auto id = book.bind(0, "bios", 4, "Redfish SimpleUpdate of https://x/bios.fd", 5);
  CHECK(book.find(id)->state == "New");
  book.observe(0, "bios", finished(4, false, "https://x/bios.fd.fwm: HTTP 404"), 6);
  const auto* t = book.find(id);
  CHECK(t->state == "Exception");
  CHECK(t->status == "Critical");
  REQUIRE(t->messages.size() == 2);
  CHECK(t->messages[1].id == "TaskEvent.1.0.TaskAborted");
  CHECK(t->messages[1].text.find("HTTP 404") != std::string::npos);
  // Binding the same recovery again (a late answer) gives the same task.
  CHECK(book.bind(0, "bios", 4, "again", 7) == id);
}

TEST_CASE("a recovery that began and ended between two looks still gets its task", "[unit]") {
  task_book book{32};
  book.observe(0, "bios", finished(1, true, "ok"), 1);
  book.observe(0, "bios", finished(2, false, "no image"), 2);
  REQUIRE(book.tasks().size() == 2);
  CHECK(book.tasks()[0].state == "Completed");
  CHECK(book.tasks()[1].state == "Exception");
  // Looking again changes nothing.
  book.observe(0, "bios", finished(2, false, "no image"), 3);
  CHECK(book.tasks().size() == 2);
}

TEST_CASE("a task whose end was not seen completes with a warning once the next begins", "[unit]") {
  task_book book{32};
  book.observe(0, "bios", running(1, "discovering", 0), 1);
  book.observe(0, "bios", running(3, "discovering", 0), 2);
  REQUIRE(book.tasks().size() == 2);
  CHECK(book.tasks()[0].state == "Completed");
  CHECK(book.tasks()[0].status == "Warning");
  CHECK(book.tasks()[1].state == "Running");
}

TEST_CASE("targets number their recoveries apart", "[unit]") {
  task_book book{32};
  book.observe(0, "bios", running(1, "flashing", 10), 1);
  book.observe(1, "nic", running(1, "transferring", 10), 1);
  REQUIRE(book.tasks().size() == 2);
  CHECK(book.tasks()[0].target_name == "bios");
  CHECK(book.tasks()[1].target_name == "nic");
}

TEST_CASE("at most `keep` tasks are kept, the oldest finished going first", "[unit]") {
  task_book book{3};
  for (uint64_t n = 1; n <= 5; ++n)
    book.observe(0, "bios", finished(n, true, "ok"), static_cast<int64_t>(n));
  REQUIRE(book.tasks().size() == 3);
  CHECK(book.tasks().front().number == 3);
  CHECK(book.find(1) == nullptr);
  // A dropped recovery's task is not made again when status still names it.
  book.observe(0, "bios", finished(2, true, "ok"), 9);
  CHECK(book.tasks().size() == 3);
  CHECK(book.tasks().front().number == 3);
}
