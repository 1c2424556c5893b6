// `fwrescue fleet`'s table and its lines about dropped answers (docs/fleet.md, "Output").

#include <catch2/catch.hpp>

#include "tools/fwrescue/fleet_view.hpp"

using namespace fwrescue::cli;
using json = nlohmann::ordered_json;

namespace {

json sample() {
  return json::parse(R"({"asker":"bmc-b","window_ms":300,"nodes":[
    {"node":"bmc-b","self":true,"address":null,"role":"peer","key":"00",
     "links":[{"name":"lan","up":true},{"name":"icmb","up":false}],
     "targets":[{"target":"bios","component":"bios","version":"2023.05","svn":2,
                 "root":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                 "state":"idle","last_recovery":null},
                {"target":"nic","component":"nic","version":null,"svn":0,"root":null,
                 "state":"failed","last_recovery":{"outcome":"failed","number":4,
                 "finished_at":1796688000}}],
     "truncated":true}],
    "dropped":[{"address":"lan:127.0.0.66:5000","node":"bmc-c","reason":"its key a is not the key b pinned for bmc-c"}],
    "left_out":3})");
}

} // namespace

TEST_CASE("the fleet table has one line per node, its targets side by side") {
  auto lines = fleet_table(sample());
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].rfind("NODE             ROLE     LINKS            TARGET     VERSION", 0) == 0);
  CHECK(lines[1]
        == "bmc-b            peer     lan,icmb(down)   "
           "bios       2023.05           2  0123456789abcdef  idle         -  |  "
           "nic        -                 0  -                 failed       "
           "#4 failed 2026-12-08 00:00:00 UTC  (more targets not shown)");
}

TEST_CASE("each dropped answer is one line naming its address, its claim and why") {
  auto lines = fleet_drops(sample());
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]
        == "dropped an answer from lan:127.0.0.66:5000 claiming bmc-c: its key a is not the key b "
           "pinned for bmc-c");
  CHECK(lines[1] == "3 more answer(s) left out: over the bounds of one query");
  CHECK(fleet_drops(json::parse(R"({"dropped":[],"left_out":0})")).empty());
}
