#include "tools/fwrescue/status_view.hpp"

#include <catch2/catch.hpp>

using namespace fwrescue::cli;
using json = nlohmann::ordered_json;

namespace {

json transferring() {
  return json::parse(R"({"target":"bios","state":"transferring",
    "recovery":{"reason":"operator request","attempt":1,"donor":"console"},
    "progress":{"phase":"transferring","unit":"blocks","done":446,"total":892,"percent":50,
                "bytes_done":1826816,"bytes_total":3653632,"rate_bytes_per_s":524288,
                "seconds_left":3}})");
}

} // namespace

TEST_CASE("status --watch: a recovering target shows blocks, bytes, rate and time left") {
  auto line = watch_line(transferring(), false);
  CHECK(line.find("transferring") != std::string::npos);
  CHECK(line.find(" 50%  446 of 892 blocks") != std::string::npos);
  CHECK(line.find("1.7 MiB of 3.5 MiB") != std::string::npos);
  CHECK(line.find("512.0 KiB/s") != std::string::npos);
  CHECK(line.find("3 s left") != std::string::npos);
  CHECK(line.find("from console") != std::string::npos);
  CHECK(line.find('[') == std::string::npos);
  CHECK(watch_line(transferring(), true).find("[##########..........]") != std::string::npos);
}

TEST_CASE("status --watch: a rate without time left is a stall") {
  auto t = transferring();
  t["progress"]["rate_bytes_per_s"] = 0;
  t["progress"]["seconds_left"] = nullptr;
  CHECK(watch_line(t, false).find("stalled") != std::string::npos);
  t["progress"]["rate_bytes_per_s"] = nullptr;
  CHECK(watch_line(t, false).find("stalled") == std::string::npos);
}

TEST_CASE("status --watch: an idle target shows what is installed and the last recovery") {
  auto t = json::parse(R"({"target":"nic","state":"idle",
    "installed":{"version":"2.1.0","svn":4},
    "last_recovery":{"succeeded":false,"donor":"","duration_ms":61000,
                     "detail":"no source had an image"}})");
  auto line = watch_line(t, true);
  CHECK(line.find("installed 2.1.0 svn 4") != std::string::npos);
  CHECK(line.find("FAILED after 1 min 01 s: no source had an image") != std::string::npos);
}

TEST_CASE("status --watch: a plain-line watch prints again only on a new phase or percent") {
  auto a = transferring();
  auto b = a;
  b["progress"]["rate_bytes_per_s"] = 1;
  CHECK(watch_key(a) == watch_key(b));
  b["progress"]["percent"] = 51;
  CHECK(watch_key(a) != watch_key(b));
}

TEST_CASE("status --watch: every target of a node, and whether any recovers") {
  auto node = transferring();
  CHECK(targets_of(node).size() == 1);
  CHECK(any_recovering(node));
  node["targets"] = json::array({transferring(), json::parse(R"({"target":"nic","state":"idle"})")});
  CHECK(targets_of(node).size() == 2);
  node["targets"][0].erase("recovery");
  CHECK_FALSE(any_recovering(node));
  CHECK(targets_of(json::parse("[1,2]")).empty());
}

TEST_CASE("status --watch: sizes and durations read as people write them") {
  CHECK(human_bytes(512) == "512 B");
  CHECK(human_bytes(4096) == "4.0 KiB");
  CHECK(human_bytes(uint64_t{3} << 30) == "3.0 GiB");
  CHECK(human_duration(59) == "59 s");
  CHECK(human_duration(200) == "3 min 20 s");
  CHECK(human_duration(3900) == "1 h 05 min");
}
