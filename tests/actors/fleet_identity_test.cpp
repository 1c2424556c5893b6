// Who may answer a fleet query under which name (docs/fleet.md, "Identity"): a table of
// answers against one query, and the pin file that remembers each node's first key.

#include <catch2/catch.hpp>

#include <fstream>

#include "actors/fleet_identity.hpp"
#include "common/error.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

secret_key key_from(uint8_t seed) {
  std::array<uint8_t, 32> bytes{};
  bytes.fill(seed);
  return secret_key{bytes};
}

const fleet_query_fields& query() {
  static const fleet_query_fields q = [] {
    fleet_query_fields f;
    f.query_id = 77;
    f.challenge.fill(0x5c);
    f.asker = "bmc-a";
    return f;
  }();
  return q;
}

fleet_answer answer(const std::string& node, const secret_key& key,
                    node_role role = node_role::peer) {
  fleet_answer_fields f;
  f.query_id = query().query_id;
  f.challenge = query().challenge;
  f.node = node;
  f.node_key = key.public_part();
  f.role = role;
  f.targets = {{"bios", "bios", "1.0", 1, digest{}, "idle", "", 0, 0}};
  auto a = make_fleet_answer(f, key, fleet_limits::max_datagram);
  REQUIRE(a);
  return *a;
}

} // namespace

TEST_CASE("fleet answers are kept, ignored or dropped by who they claim to be") {
  auto b = key_from(2), c = key_from(3), console = key_from(9), impostor = key_from(66);
  std::vector<public_key> console_keys{console.public_part()};
  fleet_pins pins;
  REQUIRE(pins.learn("bmc-c", c.public_part()));
  std::map<std::string, public_key> kept{{"bmc-b", b.public_part()}};
  std::string self = "bmc-a";
  fleet_judge judge{query(), self, console_keys, pins, kept};

  auto stale_id = answer("bmc-d", key_from(4));
  stale_id.fields.query_id = 78;
  stale_id = *make_fleet_answer(stale_id.fields, key_from(4), 1280);
  auto stale_nonce = answer("bmc-d", key_from(4));
  stale_nonce.fields.challenge.fill(0);
  stale_nonce = *make_fleet_answer(stale_nonce.fields, key_from(4), 1280);
  auto forged = answer("bmc-d", key_from(4));
  forged.fields.targets[0].version = "2.0"; // not what was signed

  struct row {
    const char* what;
    fleet_answer a;
    fleet_verdict verdict;
    std::string why;
  };
  std::vector<row> table{
    {"a new node, signed", answer("bmc-d", key_from(4)), fleet_verdict::keep, ""},
    {"another query's id", stale_id, fleet_verdict::stale, "does not answer the current query"},
    {"another query's nonce", stale_nonce, fleet_verdict::stale, "does not answer"},
    {"fields not the signed ones", forged, fleet_verdict::drop, "signature does not verify"},
    {"this node's own id", answer("bmc-a", impostor), fleet_verdict::drop,
     "claims this node's own id"},
    {"the console, with its key", answer("console", console, node_role::console),
     fleet_verdict::keep, ""},
    {"a console with another key", answer("console", impostor, node_role::console),
     fleet_verdict::drop,
     "claims the console role with key " + key_text(impostor.public_part())
       + ", which is not among [trust] console_keys"},
    {"a pinned node, its key", answer("bmc-c", c), fleet_verdict::keep, ""},
    {"a pinned node, another key", answer("bmc-c", impostor), fleet_verdict::drop,
     "its key " + key_text(impostor.public_part()) + " is not the key " + key_text(c.public_part())
       + " pinned for bmc-c"},
    {"listed already, same key", answer("bmc-b", b), fleet_verdict::duplicate, ""},
    {"listed already, another key", answer("bmc-b", impostor), fleet_verdict::drop,
     "bmc-b already answered this query with key " + key_text(b.public_part())
       + "; this answer has key " + key_text(impostor.public_part())},
  };
  for (const auto& r : table) {
    INFO(r.what);
    auto j = judge_answer(r.a, judge);
    CHECK(j.verdict == r.verdict);
    CHECK_THAT(j.why, Catch::Contains(r.why));
  }
}

TEST_CASE("fleet pins keep the first key, survive a restart and stay bounded") {
  test::temp_dir dir;
  auto path = dir.path("fleet_pins");
  fleet_pins pins{path};
  REQUIRE_FALSE(pins.load()); // no file yet: no pins
  CHECK(pins.size() == 0);
  CHECK(pins.learn("bmc-b", key_from(2).public_part()));
  CHECK_FALSE(pins.learn("bmc-b", key_from(66).public_part())); // the first key stays
  CHECK(pins.learn("bmc-b", key_from(2).public_part()));
  CHECK_FALSE(pins.learn("has space", key_from(3).public_part()));
  CHECK(pins.changed());
  REQUIRE_FALSE(pins.save());
  CHECK_FALSE(pins.changed());

  fleet_pins again{path};
  REQUIRE_FALSE(again.load());
  REQUIRE(again.find("bmc-b"));
  CHECK(*again.find("bmc-b") == key_from(2).public_part());
  CHECK_FALSE(again.find("has space"));

  for (size_t i = 0; again.size() < fleet_pins::max_pins; ++i)
    CHECK(again.learn("node-" + std::to_string(i), key_from(5).public_part()));
  CHECK_FALSE(again.learn("one-too-many", key_from(5).public_part()));

  std::ofstream{path} << "bmc-b 00ff\n";
  auto err = fleet_pins{path}.load();
  REQUIRE(err);
  CHECK_THAT(describe(err), Catch::Contains(path + ":1: expected \"NODE-ID HEX-KEY\""));
}
