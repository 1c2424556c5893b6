#include <catch2/catch.hpp>

#include <algorithm>

#include "policies/selection.hpp"
#include "tests/policies/policy_table.hpp"

using namespace fwrescue;
using test::arrived_in_order;
using test::ranked_donors;
using test::ranking_case;

namespace {

constexpr auto console = node_role::console;

void check_table(const selection_policy& policy, const std::vector<ranking_case>& table) {
  for (const auto& row : table) {
    INFO(row.what);
    CHECK(ranked_donors(policy, row.offers) == row.expected);
  }
}

} // namespace

TEST_CASE("first-responder takes offers in order of arrival") {
  check_table(
    policies::first_responder,
    {
      {"no offers", {}, {}},
      {"earliest first",
       {{.donor = "a", .arrival = 2}, {.donor = "b", .arrival = 0}, {.donor = "c", .arrival = 1}},
       {"b", "c", "a"}},
      {"role and svn do not matter",
       {{.donor = "con", .role = console, .svn = 9, .arrival = 1},
        {.donor = "old", .svn = 1, .arrival = 0}},
       {"old", "con"}},
      {"a tie breaks by node id",
       {{.donor = "b", .arrival = 0}, {.donor = "a", .arrival = 0}},
       {"a", "b"}},
    });
}

TEST_CASE("prefer-console takes a console first, then the newest svn, then arrival") {
  check_table(
    policies::prefer_console,
    {
      {"a console that answered last still goes first",
       arrived_in_order({{.donor = "p", .svn = 5}, {.donor = "c", .role = console}}),
       {"c", "p"}},
      {"among consoles the higher svn",
       arrived_in_order(
         {{.donor = "c1", .role = console, .svn = 3}, {.donor = "c2", .role = console, .svn = 5}}),
       {"c2", "c1"}},
      {"without a console, svn then arrival",
       arrived_in_order(
         {{.donor = "p3", .svn = 1}, {.donor = "p2", .svn = 2}, {.donor = "p1", .svn = 1}}),
       {"p2", "p3", "p1"}},
      {"a tie breaks by node id",
       {{.donor = "y", .role = console}, {.donor = "x", .role = console}},
       {"x", "y"}},
    });
}

TEST_CASE("newest takes the highest svn, then the highest version") {
  check_table(policies::newest,
              {
                {"svn before version",
                 arrived_in_order({{.donor = "a", .svn = 3, .version = "9.0"},
                                   {.donor = "b", .svn = 4, .version = "1.0"}}),
                 {"b", "a"}},
                {"versions compare naturally",
                 arrived_in_order({{.donor = "a", .svn = 4, .version = "2.9"},
                                   {.donor = "b", .svn = 4, .version = "2.10"},
                                   {.donor = "c", .svn = 4, .version = "2.10.1"}}),
                 {"c", "b", "a"}},
                {"role and arrival do not matter",
                 arrived_in_order({{.donor = "con", .role = console, .svn = 4, .version = "1"},
                                   {.donor = "peer", .svn = 4, .version = "2"}}),
                 {"peer", "con"}},
                {"the same version breaks by node id",
                 arrived_in_order({{.donor = "c", .svn = 4, .version = "2.7"},
                                   {.donor = "a", .svn = 4, .version = "2.7"},
                                   {.donor = "b", .svn = 4, .version = "2.07"}}),
                 {"a", "b", "c"}},
              });
}

TEST_CASE("least-loaded takes the donor with the smallest share of upload slots in use") {
  check_table(
    policies::least_loaded,
    {
      {"share, not count",
       arrived_in_order({{.donor = "a", .active_uploads = 1, .max_uploads = 2},
                         {.donor = "b", .active_uploads = 0, .max_uploads = 2},
                         {.donor = "c", .active_uploads = 1, .max_uploads = 4}}),
       {"b", "c", "a"}},
      {"no slots counts as fully loaded",
       arrived_in_order({{.donor = "z", .active_uploads = 0, .max_uploads = 0},
                         {.donor = "y", .active_uploads = 2, .max_uploads = 2},
                         {.donor = "x", .active_uploads = 3, .max_uploads = 4}}),
       {"x", "y", "z"}},
      {"over its limit is worse than full",
       arrived_in_order({{.donor = "a", .active_uploads = 5, .max_uploads = 4},
                         {.donor = "b", .active_uploads = 0, .max_uploads = 0}}),
       {"b", "a"}},
      {"equal shares break by node id",
       arrived_in_order({{.donor = "b", .active_uploads = 1, .max_uploads = 2},
                         {.donor = "a", .active_uploads = 2, .max_uploads = 4}}),
       {"a", "b"}},
      {"shares closer than a double can tell still order exactly",
       arrived_in_order({{.donor = "a", .active_uploads = 1000000000, .max_uploads = 1000000001},
                         {.donor = "b", .active_uploads = 999999999, .max_uploads = 1000000000}}),
       {"b", "a"}},
    });
}

TEST_CASE("fastest-link takes the shortest round trip plus image size over link rate") {
  constexpr uint64_t lan = 1'000'000'000; // 1 Gbit/s
  constexpr uint64_t bus = 1'000'000;     // 1 Mbit/s
  check_table(
    policies::fastest_link,
    {
      {"a small image: the round trip decides",
       arrived_in_order({{.donor = "a", .rtt_us = 500, .image_size = 1000, .link_rate_bps = lan},
                         {.donor = "b", .rtt_us = 100, .image_size = 1000, .link_rate_bps = lan}}),
       {"b", "a"}},
      {"a large image: the link rate decides",
       arrived_in_order(
         {{.donor = "slow", .rtt_us = 100, .image_size = 8'000'000, .link_rate_bps = bus},
          {.donor = "fast", .rtt_us = 2000, .image_size = 8'000'000, .link_rate_bps = lan}}),
       {"fast", "slow"}},
      {"a smaller image on the same link",
       arrived_in_order(
         {{.donor = "a", .rtt_us = 100, .image_size = 16'000'000, .link_rate_bps = lan},
          {.donor = "b", .rtt_us = 100, .image_size = 8'000'000, .link_rate_bps = lan}}),
       {"b", "a"}},
      {"an unknown rate goes last, the shorter round trip first among those",
       arrived_in_order(
         {{.donor = "u1", .rtt_us = 5, .image_size = 1000, .link_rate_bps = 0},
          {.donor = "k", .rtt_us = 10000, .image_size = 8'000'000, .link_rate_bps = bus},
          {.donor = "u2", .rtt_us = 3, .image_size = 1000, .link_rate_bps = 0}}),
       {"k", "u2", "u1"}},
      {"an equal estimate breaks by node id",
       arrived_in_order({{.donor = "b", .rtt_us = 100, .image_size = 1000, .link_rate_bps = lan},
                         {.donor = "a", .rtt_us = 100, .image_size = 1000, .link_rate_bps = lan}}),
       {"a", "b"}},
    });
}

TEST_CASE("the registry knows every policy by name") {
  auto registry = make_policy_registry();
  CHECK(known_policies(registry)
        == "fastest-link, first-responder, least-loaded, newest, prefer-console, scored");
  CHECK(registry.count("no-such-policy") == 0);

  // Each name reaches its own policy: the same offers, ranked differently by each.
  auto offers = arrived_in_order({
    {.donor = "first",
     .svn = 1,
     .active_uploads = 2,
     .max_uploads = 2,
     .rtt_us = 900,
     .image_size = 1000,
     .link_rate_bps = 1'000'000},
    {.donor = "console",
     .role = console,
     .svn = 1,
     .active_uploads = 1,
     .max_uploads = 2,
     .rtt_us = 800,
     .image_size = 1000,
     .link_rate_bps = 1'000'000},
    {.donor = "newest",
     .svn = 2,
     .active_uploads = 3,
     .max_uploads = 4,
     .rtt_us = 700,
     .image_size = 1000,
     .link_rate_bps = 1'000'000},
    {.donor = "idle",
     .svn = 1,
     .active_uploads = 0,
     .max_uploads = 2,
     .rtt_us = 600,
     .image_size = 1000,
     .link_rate_bps = 1'000'000},
    {.donor = "fast",
     .svn = 1,
     .active_uploads = 1,
     .max_uploads = 1,
     .rtt_us = 100,
     .image_size = 1000,
     .link_rate_bps = 1'000'000},
  });
  CHECK(ranked_donors(registry.at("first-responder"), offers).front() == "first");
  CHECK(ranked_donors(registry.at("prefer-console"), offers).front() == "console");
  CHECK(ranked_donors(registry.at("newest"), offers).front() == "newest");
  CHECK(ranked_donors(registry.at("least-loaded"), offers).front() == "idle");
  CHECK(ranked_donors(registry.at("fastest-link"), offers).front() == "fast");
}

TEST_CASE("every policy ranks each offer once, whatever order the offers are listed in") {
  auto offers = arrived_in_order({
    {.donor = "d",
     .svn = 2,
     .version = "1.2",
     .active_uploads = 1,
     .max_uploads = 2,
     .rtt_us = 300,
     .image_size = 4096,
     .link_rate_bps = 1'000'000},
    {.donor = "b",
     .role = console,
     .svn = 2,
     .version = "1.10",
     .max_uploads = 8,
     .rtt_us = 300,
     .image_size = 4096},
    {.donor = "a",
     .svn = 1,
     .version = "1.2",
     .active_uploads = 1,
     .max_uploads = 2,
     .rtt_us = 300,
     .image_size = 4096,
     .link_rate_bps = 1'000'000,
     .recent_failures = 1},
    {.donor = "c",
     .svn = 2,
     .version = "1.2",
     .active_uploads = 1,
     .max_uploads = 2,
     .rtt_us = 300,
     .image_size = 4096,
     .link_rate_bps = 1'000'000},
  });
  for (const auto& [name, policy] : make_policy_registry()) {
    INFO(name);
    auto expected = ranked_donors(policy, offers);
    auto sorted = expected;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<std::string>{"a", "b", "c", "d"});
    auto shuffled = offers;
    std::reverse(shuffled.begin(), shuffled.end());
    CHECK(ranked_donors(policy, shuffled) == expected);
    std::rotate(shuffled.begin(), shuffled.begin() + 1, shuffled.end());
    CHECK(ranked_donors(policy, shuffled) == expected);
  }
}
