#include <catch2/catch.hpp>

#include "common/rate_limiter.hpp"

using namespace fwrescue;
using namespace std::chrono_literals;

namespace {

int allowed(rate_limiter& r, const std::string& key, rate_limiter::clock::time_point at, int n) {
  int ok = 0;
  for (int i = 0; i < n; ++i)
    ok += r.allow(key, at) ? 1 : 0;
  return ok;
}

} // namespace

TEST_CASE("one source gets its burst, then its rate") {
  rate_limiter r{2, 1000, 16};
  rate_limiter::clock::time_point t{};
  t += 1h;
  CHECK(allowed(r, "a", t, 100) == 4); // a burst of twice the rate
  CHECK(allowed(r, "a", t + 500ms, 100) == 1);
  CHECK(allowed(r, "a", t + 1500ms, 100) == 2);
  CHECK(r.refused() == 100 - 4 + 100 - 1 + 100 - 2);
}

TEST_CASE("a flooding source does not take the others' share") {
  rate_limiter r{2, 10, 16};
  rate_limiter::clock::time_point t{};
  t += 1h;
  CHECK(allowed(r, "flood", t, 1000) == 4);
  CHECK(allowed(r, "b", t, 1) == 1);
  CHECK(allowed(r, "c", t, 1) == 1);
}

TEST_CASE("many sources together are held to the total") {
  rate_limiter r{2, 10, 100000};
  rate_limiter::clock::time_point t{};
  t += 1h;
  int ok = 0;
  for (int i = 0; i < 1000; ++i)
    ok += r.allow("source-" + std::to_string(i), t) ? 1 : 0;
  CHECK(ok == 20); // the total's burst
  ok = 0;
  for (int i = 0; i < 1000; ++i)
    ok += r.allow("later-" + std::to_string(i), t + 1s) ? 1 : 0;
  CHECK(ok == 10);
}

TEST_CASE("only so many sources are remembered") {
  rate_limiter r{1, 1000000, 8};
  rate_limiter::clock::time_point t{};
  t += 1h;
  for (int i = 0; i < 1000; ++i)
    r.allow("source-" + std::to_string(i), t);
  CHECK(r.size() == 8);
}
