// The registry: counters and histograms by label set, the cap on label sets, what label values
// are kept as, and bumps from several threads.
#include <cmath>
#include <limits>
#include <thread>

#include <catch2/catch.hpp>

#include "metrics/registry.hpp"

using namespace fwrescue;

namespace {

/// The series of `f` with `values`, or null.
const series_snapshot* find(const family_snapshot& f, const std::vector<std::string>& values) {
  for (const auto& s : f.series)
    if (s.values == values)
      return &s;
  return nullptr;
}

} // namespace

TEST_CASE("a counter adds up per label set") {
  counter_family c{"x_total", "help", {"target", "source"}};
  c.add({"bios", "peers"}, 10);
  c.add({"bios", "peers"}, 5);
  c.add({"nic", "local"});
  auto f = c.snapshot();
  CHECK(f.type == metric_type::counter);
  CHECK(f.labels == std::vector<std::string>{"target", "source"});
  REQUIRE(f.series.size() == 2);
  REQUIRE(find(f, {"bios", "peers"}));
  CHECK(find(f, {"bios", "peers"})->value == 15);
  CHECK(find(f, {"nic", "local"})->value == 1);
}

TEST_CASE("a family without labels has its one series from the start, at zero") {
  counter_family c{"served_total", "help", {}};
  auto f = c.snapshot();
  REQUIRE(f.series.size() == 1);
  CHECK(f.series[0].value == 0);
  c.add({}, 7);
  CHECK(c.snapshot().series[0].value == 7);
}

TEST_CASE("a histogram counts each observation in the first bucket whose bound holds it") {
  histogram_family h{"d_seconds", "help", {"target"}, {1, 5, 10}};
  h.observe({"bios"}, 0.5);
  h.observe({"bios"}, 1); // "le": a value on a bound belongs to that bucket
  h.observe({"bios"}, 7);
  h.observe({"bios"}, 100);
  h.observe({"bios"}, std::nan(""));
  auto f = h.snapshot();
  REQUIRE(f.series.size() == 1);
  const auto& s = f.series[0];
  CHECK(s.buckets == std::vector<uint64_t>{2, 0, 1, 1});
  CHECK(s.count == 4);
  CHECK(s.sum == Approx(108.5));
  CHECK(f.bounds == std::vector<double>{1, 5, 10});
}

TEST_CASE("histogram bounds must increase") {
  CHECK_THROWS_AS((histogram_family{"h", "", {}, {1, 1}}), std::invalid_argument);
  CHECK_THROWS_AS((histogram_family{"h", "", {}, {2, 1}}), std::invalid_argument);
  CHECK_THROWS_AS((histogram_family{"h", "", {}, {1, std::numeric_limits<double>::infinity()}}),
                  std::invalid_argument);
}

TEST_CASE("past its cap a family puts new label sets in one 'other' series") {
  counter_family c{"rejected_total", "help", {"target", "donor"}, 4};
  for (int i = 0; i < 1000; ++i)
    c.add({"bios", "forged-" + std::to_string(i)});
  auto f = c.snapshot();
  // Four real series and the overflow: the family stops growing however many ids a peer forges.
  CHECK(f.series.size() == 5);
  REQUIRE(find(f, {"other", "other"}));
  CHECK(find(f, {"other", "other"})->value == 996);
  CHECK(find(f, {"bios", "forged-0"})->value == 1);
  // A label set the family already holds still counts on its own series.
  c.add({"bios", "forged-3"}, 10);
  CHECK(find(c.snapshot(), {"bios", "forged-3"})->value == 11);
}

TEST_CASE("a label value is cut and its control and non-ASCII bytes replaced") {
  CHECK(clean_label_value("bmc-c") == "bmc-c");
  CHECK(clean_label_value(std::string{"a\tb\0c\x7f\xc3\xa9", 8}) == "a?b?c???");
  // Newline, quote and backslash stay: the renderer escapes them.
  CHECK(clean_label_value("a\n\"\\") == "a\n\"\\");
  CHECK(clean_label_value(std::string(10000, 'x')).size() == max_label_value_bytes);
  counter_family c{"x_total", "help", {"donor"}};
  c.add({std::string(500, 'y')});
  CHECK(c.snapshot().series[0].values[0] == std::string(max_label_value_bytes, 'y'));
}

TEST_CASE("counts from several threads all arrive") {
  counter_family c{"x_total", "help", {"t"}};
  histogram_family h{"h_seconds", "help", {"t"}, {1}};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c.add({t % 2 ? "a" : "b"});
        h.observe({"a"}, 0.5);
      }
    });
  for (auto& t : threads)
    t.join();
  auto f = c.snapshot();
  CHECK(find(f, {"a"})->value + find(f, {"b"})->value == 40000);
  CHECK(h.snapshot().series[0].count == 40000);
}

TEST_CASE("a registry collects its families in order, then its collectors'") {
  metric_registry r;
  r.counter("b_total", "b", {}).add({}, 2);
  r.histogram("a_seconds", "a", {}, {1});
  r.add_collector([](std::vector<family_snapshot>& out) {
    family_snapshot f;
    f.name = "c_total";
    out.push_back(f);
  });
  auto all = r.collect();
  REQUIRE(all.size() == 3);
  CHECK(all[0].name == "b_total");
  CHECK(all[1].name == "a_seconds");
  CHECK(all[2].name == "c_total");
}
