#include <catch2/catch.hpp>

#include <functional>

#include "common/hex.hpp"
#include "image/merkle.hpp"
#include "image/revocation.hpp"
#include "image/signing.hpp"
#include "policies/compatibility.hpp"

using namespace fwrescue;

namespace {

constexpr uint32_t block = 4096;

/// What an offered manifest says; signed by `key` at the start of each case.
struct offered {
  platform_id platform{"Acme", "X11"};
  std::string version = "2.7.1";
  uint32_t svn = 5;
  uint64_t image_size = 4 * block;
  std::string component = "bios";
};

signed_manifest sign(const secret_key& key, const offered& o) {
  manifest fields;
  fields.platform = o.platform;
  fields.component = o.component;
  fields.version = o.version;
  fields.svn = o.svn;
  fields.image_size = o.image_size;
  fields.block_size = block;
  fields.created_at = 1795000000;
  // The rules look at the signed fields, not at the blocks: any leaves will do.
  merkle_tree tree{hash_algorithm::blake2b_256,
                   std::vector<digest>(fields.block_count(), digest{})};
  auto m = sign_manifest(key, fields, tree);
  REQUIRE(m);
  return std::move(*m);
}

/// A recipient that accepts the default `offered`: same platform, floor 3, installed svn 5,
/// flash of 16 blocks.
compatibility_rules recipient(const secret_key& key) {
  compatibility_rules r;
  r.platform = {"Acme", "X11"};
  r.svn_floor = 3;
  r.flash_size = 16 * block;
  r.trusted_keys = {key.public_part()};
  r.installed_svn = 5;
  return r;
}

struct rule_case {
  std::string what;
  std::function<void(offered&, compatibility_rules&)> setup;
  /// The exact reason, empty for an accepted offer.
  std::string reason;
};

void check_table(const std::vector<rule_case>& table) {
  auto key = secret_key::generate();
  for (const auto& row : table) {
    INFO(row.what);
    offered o;
    auto rules = recipient(key);
    row.setup(o, rules);
    CHECK(incompatibility(sign(key, o), rules) == row.reason);
  }
}

} // namespace

TEST_CASE("an offer that meets every rule is compatible") {
  check_table({{"the defaults", [](offered&, compatibility_rules&) {}, ""}});
}

TEST_CASE("the signer must be a trusted key") {
  auto key = secret_key::generate();
  auto other = secret_key::generate();
  auto rules = recipient(key);
  CHECK(incompatibility(sign(key, {}), rules).empty());

  auto by_other = sign(other, {});
  CHECK(incompatibility(by_other, rules)
        == "manifest signed by key " + to_hex(other.public_part().id())
             + ", which is not among the 1 trusted key(s)");

  auto tampered = sign(key, {});
  tampered.sig[0] ^= 1;
  CHECK(incompatibility(tampered, rules)
        == "manifest signature does not verify with key " + to_hex(key.public_part().id()));
}

TEST_CASE("the component must be this node's, checked right after the signer") {
  check_table({
    {"a NIC image for a BIOS flash", [](offered& o, compatibility_rules&) { o.component = "nic"; },
     "component nic does not match bios"},
    {"a BIOS image for a NIC flash", [](offered&, compatibility_rules& r) { r.component = "nic"; },
     "component bios does not match nic"},
    {"both nic", [](offered& o, compatibility_rules& r) { o.component = r.component = "nic"; },
     ""},
    // Before every rule but the signer: the platform and svn are wrong too, yet the component
    // is what is reported.
    {"before the platform and the floor",
     [](offered& o, compatibility_rules&) {
       o.component = "cpld";
       o.platform.board = "X12";
       o.svn = 1;
     },
     "component cpld does not match bios"},
  });
  // After the signer: an untrusted manifest is reported as such, whatever it names.
  auto key = secret_key::generate();
  auto other = secret_key::generate();
  offered nic;
  nic.component = "nic";
  CHECK_THAT(incompatibility(sign(other, nic), recipient(key)),
             Catch::StartsWith("manifest signed by key"));
}

TEST_CASE("the platform must match") {
  check_table({
    {"another board", [](offered& o, compatibility_rules&) { o.platform.board = "X12"; },
     "platform Acme:X12 does not match Acme:X11"},
    {"another vendor", [](offered& o, compatibility_rules&) { o.platform.vendor = "Acme Corp"; },
     "platform Acme Corp:X11 does not match Acme:X11"},
    {"case matters", [](offered& o, compatibility_rules&) { o.platform.board = "x11"; },
     "platform Acme:x11 does not match Acme:X11"},
  });
}

TEST_CASE("the svn must reach the floor") {
  check_table({
    {"at the floor", [](offered& o, compatibility_rules& r) { o.svn = r.svn_floor = 5; }, ""},
    {"below the floor",
     [](offered& o, compatibility_rules& r) {
       o.svn = 2;
       r.installed_svn.reset();
     },
     "svn 2 is below the floor 3"},
    {"downgrades allowed do not lower the floor",
     [](offered& o, compatibility_rules& r) {
       o.svn = 2;
       r.allow_downgrade = true;
     },
     "svn 2 is below the floor 3"},
  });
}

TEST_CASE("an svn below the installed one is a downgrade, refused unless allowed") {
  check_table({
    {"the installed svn", [](offered& o, compatibility_rules&) { o.svn = 5; }, ""},
    {"newer than installed", [](offered& o, compatibility_rules&) { o.svn = 6; }, ""},
    {"older than installed", [](offered& o, compatibility_rules&) { o.svn = 4; },
     "svn 4 would downgrade the installed svn 5 (policy.allow_downgrade is off)"},
    {"older, with downgrades allowed",
     [](offered& o, compatibility_rules& r) {
       o.svn = 4;
       r.allow_downgrade = true;
     },
     ""},
    {"nothing installed: no downgrade to speak of",
     [](offered& o, compatibility_rules& r) {
       o.svn = 4;
       r.installed_svn.reset();
     },
     ""},
  });
}

TEST_CASE("a pinned version or an allowed-version list limits the versions") {
  check_table({
    {"the pinned version", [](offered&, compatibility_rules& r) { r.pinned_version = "2.7.1"; },
     ""},
    {"another version than the pinned one",
     [](offered& o, compatibility_rules& r) {
       o.version = "2.8.0";
       r.pinned_version = "2.7.1";
     },
     "version 2.8.0 is not the pinned version 2.7.1"},
    {"versions compare exactly",
     [](offered& o, compatibility_rules& r) {
       o.version = "2.07.1";
       r.pinned_version = "2.7.1";
     },
     "version 2.07.1 is not the pinned version 2.7.1"},
    {"a listed version",
     [](offered&, compatibility_rules& r) {
       r.allowed_versions = {"2.6.0", "2.7.1"};
     },
     ""},
    {"an unlisted version",
     [](offered& o, compatibility_rules& r) {
       o.version = "2.8.0";
       r.allowed_versions = {"2.6.0", "2.7.1"};
     },
     "version 2.8.0 is not among the allowed versions (2.6.0, 2.7.1)"},
    {"the pin decides when both are set",
     [](offered& o, compatibility_rules& r) {
       o.version = "2.6.0";
       r.allowed_versions = {"2.6.0", "2.7.1"};
       r.pinned_version = "2.7.1";
     },
     "version 2.6.0 is not the pinned version 2.7.1"},
  });
}

TEST_CASE("the image must fit the flash") {
  check_table({
    {"exactly the flash size",
     [](offered& o, compatibility_rules& r) { o.image_size = r.flash_size; }, ""},
    {"one byte more", [](offered& o, compatibility_rules& r) { o.image_size = r.flash_size + 1; },
     "image of 65537 bytes does not fit the 65536-byte flash"},
  });
}

TEST_CASE("rules are checked in order and the first failure is the reason") {
  auto key = secret_key::generate();
  auto other = secret_key::generate();
  // Every rule broken at once, then mended one by one in the documented order.
  offered o{{"Acme", "X12"}, "9.9", 1, 32 * block};
  auto rules = recipient(key);
  rules.svn_floor = 2;
  rules.pinned_version = "2.7.1";
  CHECK_THAT(incompatibility(sign(other, o), rules), Catch::StartsWith("manifest signed by key"));
  CHECK(incompatibility(sign(key, o), rules) == "platform Acme:X12 does not match Acme:X11");
  o.platform.board = "X11";
  CHECK(incompatibility(sign(key, o), rules) == "svn 1 is below the floor 2");
  rules.svn_floor = 1;
  CHECK(incompatibility(sign(key, o), rules)
        == "svn 1 would downgrade the installed svn 5 (policy.allow_downgrade is off)");
  rules.allow_downgrade = true;
  CHECK(incompatibility(sign(key, o), rules) == "version 9.9 is not the pinned version 2.7.1");
  rules.pinned_version.clear();
  CHECK(incompatibility(sign(key, o), rules)
        == "image of 131072 bytes does not fit the 65536-byte flash");
  o.image_size = block;
  CHECK(incompatibility(sign(key, o), rules).empty());
}

TEST_CASE("a revoked image or signer is refused with the reason") {
  auto key = secret_key::generate();
  auto m = sign(key, offered{});
  auto rules = recipient(key);
  REQUIRE(incompatibility(m, rules).empty());
  revocation_list list;
  list.serial = 4;
  SECTION("the image") {
    list.roots.push_back(m.fields.merkle_root);
    rules.revoked = list;
    CHECK(incompatibility(m, rules)
          == "image " + to_hex(m.fields.merkle_root) + " is revoked (revocation list 4)");
  }
  SECTION("the key that signed it") {
    list.keys.push_back(key.public_part().bytes);
    rules.revoked = list;
    CHECK(incompatibility(m, rules)
          == "signed by key " + to_hex(key.public_part().id())
               + ", which is revoked (revocation list 4)");
  }
  SECTION("neither: accepted") {
    list.roots.push_back(digest{});
    rules.revoked = list;
    CHECK(incompatibility(m, rules).empty());
  }
  SECTION("an unreadable stored list refuses everything") {
    rules.revocation_error = "the stored revocation list cannot be read";
    CHECK(incompatibility(m, rules) == "the stored revocation list cannot be read");
  }
}
