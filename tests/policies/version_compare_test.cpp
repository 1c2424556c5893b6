#include <catch2/catch.hpp>

#include <string>

#include "policies/version_compare.hpp"

using namespace fwrescue;

namespace {

struct row {
  std::string older;
  std::string newer;
};

/// -1, 0 or 1, so a failed CHECK prints something readable.
int sign(std::weak_ordering o) {
  return o < 0 ? -1 : o > 0 ? 1 : 0;
}

} // namespace

TEST_CASE("version_compare orders versions naturally") {
  const row rows[] = {
    {"2.9", "2.10"}, // numbers compare as numbers, not text
    {"1.9.9", "1.10.0"},
    {"2.7", "2.7.1"}, // a prefix is older
    {"2.7.1", "2.7.1a"},
    {"1.0", "1.0-rc1"}, // suffixes are not special
    {"2.7.1", "3"},
    {"9", "10"},
    {"v1.2", "v1.10"},
    {"1.a", "1.b"}, // other bytes compare by value
    {"1-2", "1.2"}, // '-' < '.'
    {"1.2", "1.x"}, // a number sorts before a byte above '9'
    {"1.-", "1.0"}, // and after a byte below '0'
    {"", "0"},
    {"99999999999999999999999", "100000000000000000000000"}, // longer than 64 bits
  };
  for (const auto& r : rows) {
    INFO(r.older << " < " << r.newer);
    CHECK(sign(version_compare(r.older, r.newer)) == -1);
    CHECK(sign(version_compare(r.newer, r.older)) == 1);
  }
}

TEST_CASE("version_compare treats leading zeros as the same number") {
  const row rows[] = {
    {"2.7.1", "2.7.1"}, {"1.02", "1.2"}, {"1.0", "1.00"}, {"007", "7"}, {"", ""},
  };
  for (const auto& r : rows) {
    INFO(r.older << " == " << r.newer);
    CHECK(sign(version_compare(r.older, r.newer)) == 0);
    CHECK(sign(version_compare(r.newer, r.older)) == 0);
  }
}
