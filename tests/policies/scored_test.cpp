#include <catch2/catch.hpp>

#include <limits>

#include "policies/selection.hpp"
#include "tests/policies/policy_table.hpp"

using namespace fwrescue;
using test::arrived_in_order;
using test::ranked_donors;

namespace {

constexpr auto console = node_role::console;

/// Only `w` of `term` set; every other weight 0.
scoring_weights only(double scoring_weights::*term, double w = 1.0) {
  scoring_weights weights{0, 0, 0, 0, 0};
  weights.*term = w;
  return weights;
}

auto scored_with(const scoring_weights& w) {
  return [w](std::span<const offer_facts> offers) { return policies::scored(offers, w); };
}

} // namespace

TEST_CASE("scored follows the documented formula") {
  // docs/policies.md works through this example.
  auto offers = arrived_in_order({
    {.donor = "a",
     .svn = 3,
     .active_uploads = 0,
     .max_uploads = 2,
     .image_size = 1'000'000,
     .link_rate_bps = 8'000'000},
    {.donor = "b",
     .role = console,
     .svn = 5,
     .active_uploads = 1,
     .max_uploads = 2,
     .image_size = 1'000'000,
     .recent_failures = 2},
    {.donor = "c",
     .svn = 4,
     .active_uploads = 2,
     .max_uploads = 2,
     .image_size = 1'000'000,
     .link_rate_bps = 16'000'000,
     .recent_bad_blocks = 1},
  });
  auto score = policies::scores(offers, scoring_weights{});
  REQUIRE(score.size() == 3);
  // role + svn + load + link - history
  CHECK(score[0] == Approx(0 + 0 + 1 + 0 - 0));
  CHECK(score[1] == Approx(1 + 1 + 0.5 + 0 - 1));
  CHECK(score[2] == Approx(0 + 0.5 + 0 + 1 - 0.5));
  // a and c tie at 1: node id.
  CHECK(ranked_donors(scored_with({}), offers) == std::vector<std::string>{"b", "a", "c"});

  SECTION("each term alone") {
    using sw = scoring_weights;
    CHECK(ranked_donors(scored_with(only(&sw::role)), offers)
          == std::vector<std::string>{"b", "a", "c"});
    CHECK(ranked_donors(scored_with(only(&sw::svn)), offers)
          == std::vector<std::string>{"b", "c", "a"});
    CHECK(ranked_donors(scored_with(only(&sw::load)), offers)
          == std::vector<std::string>{"a", "b", "c"});
    CHECK(ranked_donors(scored_with(only(&sw::link)), offers)
          == std::vector<std::string>{"c", "a", "b"});
    CHECK(ranked_donors(scored_with(only(&sw::history)), offers)
          == std::vector<std::string>{"a", "c", "b"});
  }
}

TEST_CASE("scored ranks a donor with a recent failure or bad block below an equal one") {
  offer_facts base{.svn = 4,
                   .active_uploads = 1,
                   .max_uploads = 2,
                   .rtt_us = 300,
                   .image_size = 4096,
                   .link_rate_bps = 1'000'000};
  auto a = base;
  a.donor = "a";
  auto b = base;
  b.donor = "b";
  CHECK(ranked_donors(scored_with({}), arrived_in_order({a, b}))
        == std::vector<std::string>{"a", "b"});

  auto failed = a;
  failed.recent_failures = 1;
  CHECK(ranked_donors(scored_with({}), arrived_in_order({failed, b}))
        == std::vector<std::string>{"b", "a"});
  auto bad_block = a;
  bad_block.recent_bad_blocks = 3;
  CHECK(ranked_donors(scored_with({}), arrived_in_order({bad_block, b}))
        == std::vector<std::string>{"b", "a"});

  // The more trouble, the lower.
  auto worse = b;
  worse.recent_failures = 2;
  CHECK(ranked_donors(scored_with({}), arrived_in_order({worse, failed}))
        == std::vector<std::string>{"a", "b"});

  SECTION("unless history has no weight") {
    scoring_weights w;
    w.history = 0;
    CHECK(ranked_donors(scored_with(w), arrived_in_order({failed, b}))
          == std::vector<std::string>{"a", "b"});
  }
}

TEST_CASE("scored weights change the winner") {
  // A busy console against an idle peer with the same image.
  auto offers = arrived_in_order({
    {.donor = "console", .role = console, .svn = 4, .active_uploads = 8, .max_uploads = 8},
    {.donor = "peer", .svn = 4, .active_uploads = 0, .max_uploads = 2},
  });
  scoring_weights role_heavy;
  role_heavy.role = 2;
  CHECK(ranked_donors(scored_with(role_heavy), offers)
        == std::vector<std::string>{"console", "peer"});
  scoring_weights load_heavy;
  load_heavy.load = 2;
  CHECK(ranked_donors(scored_with(load_heavy), offers)
        == std::vector<std::string>{"peer", "console"});

  SECTION("through the registry, which captures the weights it was built with") {
    CHECK(ranked_donors(make_policy_registry(role_heavy).at("scored"), offers).front()
          == "console");
    CHECK(ranked_donors(make_policy_registry(load_heavy).at("scored"), offers).front() == "peer");
  }
}

TEST_CASE("scored with no usable weight falls back to node id order") {
  auto offers = arrived_in_order({
    {.donor = "c", .role = console, .svn = 9},
    {.donor = "a", .svn = 1, .recent_failures = 5},
    {.donor = "b", .svn = 5, .active_uploads = 0, .max_uploads = 4},
  });
  const std::vector<std::string> by_id{"a", "b", "c"};
  CHECK(ranked_donors(scored_with({0, 0, 0, 0, 0}), offers) == by_id);
  // The parser refuses these; should one reach the policy, it counts as 0 rather than
  // corrupting the sort.
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  constexpr double inf = std::numeric_limits<double>::infinity();
  CHECK(ranked_donors(scored_with({nan, -1, inf, nan, -inf}), offers) == by_id);
}

TEST_CASE("scored puts an offer over a link of unknown rate below those it can estimate") {
  auto offers = arrived_in_order({
    {.donor = "a", .rtt_us = 10, .image_size = 4096},
    {.donor = "b", .rtt_us = 9000, .image_size = 4096, .link_rate_bps = 1'000'000},
  });
  CHECK(ranked_donors(scored_with(only(&scoring_weights::link)), offers)
        == std::vector<std::string>{"b", "a"});
}
