// The text exposition, read back as a scraper reads it: every sample line parses, histogram
// buckets are cumulative and end at +Inf with _count, and no label value can break a line.
#include <catch2/catch.hpp>

#include "metrics/exposition.hpp"
#include "metrics/node_metrics.hpp"
#include "tests/metrics/exposition_parser.hpp"

using namespace fwrescue;
using test::find_samples;
using test::parse_exposition;

TEST_CASE("counters render as name{labels} value under their HELP and TYPE") {
  metric_registry r;
  auto& c = r.counter("fwrescue_x_total", "Things.\nCounted \\ here.", {"target", "source"});
  c.add({"bios", "peers"}, 42);
  auto text = render(r);
  CHECK(text
        == "# HELP fwrescue_x_total Things.\\nCounted \\\\ here.\n"
           "# TYPE fwrescue_x_total counter\n"
           "fwrescue_x_total{target=\"bios\",source=\"peers\"} 42\n");
  auto samples = parse_exposition(text);
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].labels.at("source") == "peers");
  CHECK(samples[0].value == 42);
}

TEST_CASE("a family without labels renders without braces") {
  metric_registry r;
  r.counter("fwrescue_y_total", "y", {}).add({}, 3);
  CHECK(render(r).find("\nfwrescue_y_total 3\n") != std::string::npos);
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, _sum and _count") {
  metric_registry r;
  auto& h = r.histogram("fwrescue_d_seconds", "d", {"target"}, {0.5, 1, 30});
  for (double v : {0.1, 0.2, 0.7, 12.0, 45.0, 1000.0})
    h.observe({"bios"}, v);
  h.observe({"nic"}, 0.5);
  auto text = render(r);
  CHECK(text.find("# TYPE fwrescue_d_seconds histogram\n") != std::string::npos);
  CHECK(text.find("fwrescue_d_seconds_bucket{target=\"bios\",le=\"0.5\"} 2\n")
        != std::string::npos);
  auto samples = parse_exposition(text);
  for (std::string target : {"bios", "nic"}) {
    INFO(target);
    auto buckets = find_samples(samples, "fwrescue_d_seconds_bucket", {{"target", target}});
    REQUIRE(buckets.size() == 4);
    for (size_t i = 1; i < buckets.size(); ++i)
      CHECK(buckets[i].value >= buckets[i - 1].value);
    CHECK(buckets.back().labels.at("le") == "+Inf");
    auto count = find_samples(samples, "fwrescue_d_seconds_count", {{"target", target}});
    REQUIRE(count.size() == 1);
    CHECK(count[0].value == buckets.back().value);
  }
  auto bios = find_samples(samples, "fwrescue_d_seconds_bucket", {{"target", "bios"}});
  CHECK(bios[0].value == 2);
  CHECK(bios[1].value == 3);
  CHECK(bios[2].value == 4);
  CHECK(bios[3].value == 6);
  auto sum = find_samples(samples, "fwrescue_d_seconds_sum", {{"target", "bios"}});
  REQUIRE(sum.size() == 1);
  CHECK(sum[0].value == Approx(1058.0));
}

TEST_CASE("a hostile label value is escaped and reads back as it was kept") {
  metric_registry r;
  auto& c = r.counter("fwrescue_blocks_rejected_total", "r", {"target", "donor"});
  std::string hostile = "evil\"} 1\nfwrescue_recoveries_total{x=\"\\";
  c.add({"bios", hostile});
  c.add({"bios", std::string{"nul\0tab\tbyte\xff", 13}});
  auto text = render(r);
  auto samples = parse_exposition(text);
  // Two samples and nothing injected: the newline and quotes stayed inside the value.
  REQUIRE(samples.size() == 2);
  CHECK(find_samples(samples, "fwrescue_recoveries_total").empty());
  CHECK(find_samples(samples, "fwrescue_blocks_rejected_total", {{"donor", hostile}}).size() == 1);
  CHECK(find_samples(samples, "fwrescue_blocks_rejected_total", {{"donor", "nul?tab?byte?"}}).size()
        == 1);
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
}

TEST_CASE("the label-set cap holds in the rendered text") {
  metric_registry r;
  auto& c = r.counter("fwrescue_blocks_rejected_total", "r", {"target", "donor"});
  for (int i = 0; i < 500; ++i)
    c.add({"bios", "donor-" + std::to_string(i)});
  auto samples = parse_exposition(render(r));
  CHECK(samples.size() == default_max_series + 1);
  auto other = find_samples(samples, "fwrescue_blocks_rejected_total", {{"donor", "other"}});
  REQUIRE(other.size() == 1);
  CHECK(other[0].value == 500 - default_max_series);
}

TEST_CASE("the node's metrics render and parse, names and help included") {
  node_metrics m;
  m.recovery_ended("bios", true, "peers", 2500);
  m.recovery_ended("bios", false, "", 90000);
  m.bytes_pulled.add({"bios", "peers"}, 65536);
  m.offers.add({"bios", "compatible"});
  auto text = render(m.registry);
  auto samples = parse_exposition(text);
  auto ok = find_samples(samples, "fwrescue_recoveries_total",
                         {{"target", "bios"}, {"outcome", "succeeded"}, {"source", "peers"}});
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].value == 1);
  CHECK(find_samples(samples, "fwrescue_recoveries_total", {{"source", "none"}}).size() == 1);
  auto count =
    find_samples(samples, "fwrescue_recovery_duration_seconds_count", {{"outcome", "succeeded"}});
  REQUIRE(count.size() == 1);
  CHECK(count[0].value == 1);
  // Every family has its HELP and TYPE, and a counter's name ends in _total.
  for (const auto& f : m.registry.collect()) {
    INFO(f.name);
    CHECK(text.find("# HELP " + f.name + " ") != std::string::npos);
    CHECK(text.find("# TYPE " + f.name + " ") != std::string::npos);
    CHECK(f.name.rfind("fwrescue_", 0) == 0);
    if (f.type == metric_type::counter)
      CHECK(f.name.substr(f.name.size() - 6) == "_total");
    else
      CHECK(f.name.substr(f.name.size() - 8) == "_seconds");
  }
}
