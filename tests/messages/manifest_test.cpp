#include <catch2/catch.hpp>

#include <random>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "common/error.hpp"
#include "common/hex.hpp"
#include "messages/manifest.capnp.h"
#include "messages/manifest.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

manifest sample() {
  manifest m;
  m.platform = {"Acme", "X11-DP"};
  m.version = "2.7.1";
  m.svn = 7;
  m.image_size = 3 * 1024 * 1024 + 100;
  m.block_size = 4096;
  m.hash = hash_algorithm::sha256;
  for (size_t i = 0; i < m.merkle_root.size(); ++i)
    m.merkle_root[i] = static_cast<uint8_t>(i * 7);
  m.signer_key_id = {1, 2, 3, 4, 5, 6, 7, 8};
  m.created_at = 1795000000;
  return m;
}

signed_manifest sample_file() {
  signed_manifest s;
  s.fields = sample();
  s.body = encode_body(s.fields);
  s.sig.fill(0xab);
  s.block_digests.resize(s.fields.block_count());
  for (size_t i = 0; i < s.block_digests.size(); ++i)
    s.block_digests[i].fill(static_cast<uint8_t>(i));
  return s;
}

/// The magic followed by `message`. (Built by copying into a sized vector: g++ 12 warns
/// wrongly about inserting after a vector made from the magic.)
std::vector<uint8_t> with_magic(std::span<const uint8_t> message) {
  std::vector<uint8_t> out(manifest_file_magic.size() + message.size());
  auto rest = std::copy(manifest_file_magic.begin(), manifest_file_magic.end(), out.begin());
  std::copy(message.begin(), message.end(), rest);
  return out;
}

std::vector<uint8_t> file_from(capnp::MallocMessageBuilder& builder) {
  auto words = capnp::messageToFlatArray(builder);
  return with_magic({words.asBytes().begin(), words.asBytes().size()});
}

} // namespace

TEST_CASE("a manifest survives encoding and decoding unchanged") {
  auto s = sample_file();
  auto decoded = decode_manifest_file(encode_manifest_file(s));
  REQUIRE(decoded);
  CHECK(decoded->fields == s.fields);
  CHECK(decoded->body == s.body);
  CHECK(decoded->sig == s.sig);
  CHECK(decoded->block_digests == s.block_digests);

  auto body = decode_body(s.body);
  REQUIRE(body);
  CHECK(*body == s.fields);
}

TEST_CASE("a manifest file without block digests decodes with an empty list") {
  auto s = sample_file();
  s.block_digests.clear();
  auto decoded = decode_manifest_file(encode_manifest_file(s));
  REQUIRE(decoded);
  CHECK(decoded->block_digests.empty());
}

TEST_CASE("field rules are enforced with an error naming the field") {
  auto check = [](auto mutate, const char* words) {
    auto m = sample();
    mutate(m);
    auto err = validate(m);
    REQUIRE(err);
    CHECK_THAT(describe(err), Catch::Contains(words));
  };
  check([](manifest& m) { m.block_size = 3000; }, "block size 3000");
  check([](manifest& m) { m.block_size = 256; }, "block size 256");
  check([](manifest& m) { m.block_size = 1u << 21; }, "block size");
  check([](manifest& m) { m.image_size = 0; }, "image size 0");
  check([](manifest& m) { m.image_size = (1ull << 30) + 1; }, "image size");
  check([](manifest& m) { m.platform.vendor = ""; }, "platform vendor is empty");
  check([](manifest& m) { m.platform.board = std::string(65, 'x'); }, "platform board is 65");
  check([](manifest& m) { m.version = "1.0\x1b[31m"; }, "version holds characters");
  check([](manifest& m) { m.hash = static_cast<hash_algorithm>(9); }, "hash algorithm 9");
  check([](manifest& m) { m.format_version = 3; }, "format version 3 is not supported");
}

TEST_CASE("random bytes never decode as a manifest and never crash the decoder") {
  std::mt19937_64 gen{7};
  for (int i = 0; i < 2000; ++i) {
    auto n = std::uniform_int_distribution<size_t>{0, 600}(gen);
    auto bytes = test::random_bytes(n, gen());
    if (i % 2 == 0 && bytes.size() >= 8) // half of them get past the magic check
      std::copy(manifest_file_magic.begin(), manifest_file_magic.end(), bytes.begin());
    auto decoded = decode_manifest_file(bytes);
    REQUIRE_FALSE(decoded);
    CHECK(has_code(decoded.error(), errc::malformed));
  }
}

TEST_CASE("every truncation of a manifest file is rejected cleanly") {
  auto bytes = encode_manifest_file(sample_file());
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto decoded = decode_manifest_file(std::span{bytes}.first(len));
    INFO("length " << len);
    REQUIRE_FALSE(decoded);
    CHECK_THAT(describe(decoded.error()), Catch::StartsWith("malformed manifest"));
  }
}

TEST_CASE("absurd lengths in the encoding are refused, not allocated") {
  SECTION("a segment table claiming a huge segment") {
    // segment count - 1 = 0, first segment size = 0x7fffffff words
    std::vector<uint8_t> table{0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f};
    table.resize(table.size() + 64, 0);
    auto bytes = with_magic(table);
    auto decoded = decode_manifest_file(bytes);
    REQUIRE_FALSE(decoded);
    CHECK(has_code(decoded.error(), errc::malformed));
  }
  SECTION("a segment table claiming four billion segments") {
    std::vector<uint8_t> table{0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0};
    table.resize(table.size() + 64, 0);
    REQUIRE_FALSE(decode_manifest_file(with_magic(table)));
  }
  SECTION("a signed body larger than any real manifest") {
    capnp::MallocMessageBuilder builder;
    auto root = builder.initRoot<schema::SignedManifest>();
    root.initBody(64 * 1024);
    root.initSignature(64);
    auto decoded = decode_manifest_file(file_from(builder));
    REQUIRE_FALSE(decoded);
    CHECK_THAT(describe(decoded.error()), Catch::Contains("signed body is"));
  }
  SECTION("a signature of the wrong length") {
    capnp::MallocMessageBuilder builder;
    auto root = builder.initRoot<schema::SignedManifest>();
    auto body = encode_body(sample());
    root.setBody({body.data(), body.size()});
    root.initSignature(63);
    auto decoded = decode_manifest_file(file_from(builder));
    REQUIRE_FALSE(decoded);
    CHECK_THAT(describe(decoded.error()), Catch::Contains("signature is 63 bytes"));
  }
  SECTION("a digest list that does not match the block count") {
    auto s = sample_file();
    s.block_digests.pop_back();
    auto decoded = decode_manifest_file(encode_manifest_file(s));
    REQUIRE_FALSE(decoded);
    CHECK_THAT(describe(decoded.error()), Catch::Contains("block digest list has"));
  }
  SECTION("a Merkle root of the wrong length") {
    capnp::MallocMessageBuilder builder;
    auto body = builder.initRoot<schema::ManifestBody>();
    body.setFormatVersion(1);
    body.initMerkleRoot(31);
    auto words = capnp::messageToFlatArray(builder);
    auto decoded = decode_body({words.asBytes().begin(), words.asBytes().size()});
    REQUIRE_FALSE(decoded);
    CHECK_THAT(describe(decoded.error()), Catch::Contains("Merkle root is 31 bytes"));
  }
  SECTION("a hash algorithm value that would wrap to a known one") {
    capnp::MallocMessageBuilder builder;
    auto body = builder.initRoot<schema::ManifestBody>();
    body.setFormatVersion(1);
    body.setHashAlgorithm(static_cast<schema::HashAlgorithm>(256));
    auto words = capnp::messageToFlatArray(builder);
    auto decoded = decode_body({words.asBytes().begin(), words.asBytes().size()});
    REQUIRE_FALSE(decoded);
    CHECK_THAT(describe(decoded.error()), Catch::Contains("hash algorithm 256 is unknown"));
  }
  SECTION("an unknown format version is refused by number") {
    capnp::MallocMessageBuilder builder;
    auto body = builder.initRoot<schema::ManifestBody>();
    body.setFormatVersion(9);
    auto words = capnp::messageToFlatArray(builder);
    auto decoded = decode_body({words.asBytes().begin(), words.asBytes().size()});
    REQUIRE_FALSE(decoded);
    CHECK(has_code(decoded.error(), errc::unsupported_version));
    CHECK_THAT(describe(decoded.error()), Catch::Contains("format version 9"));
  }
}

TEST_CASE("a manifest names its component, and it survives encoding and decoding") {
  auto s = sample_file();
  CHECK(s.fields.component == "bios");
  s.fields.component = "nic";
  s.fields.format_version = manifest::component_format_version;
  s.body = encode_body(s.fields);
  auto decoded = decode_manifest_file(encode_manifest_file(s));
  REQUIRE(decoded);
  CHECK(decoded->fields.component == "nic");
  CHECK(decoded->fields == s.fields);
  // The component is inside the signed bytes: another one changes them.
  auto bios = sample();
  CHECK(encode_body(bios) != s.body);
}

TEST_CASE("a manifest body signed before components existed decodes as bios") {
  // The body as an earlier release wrote it: every field but the component.
  auto m = sample();
  capnp::MallocMessageBuilder builder;
  auto body = builder.initRoot<schema::ManifestBody>();
  body.setFormatVersion(m.format_version);
  auto platform = body.initPlatform();
  platform.setVendor(m.platform.vendor);
  platform.setBoard(m.platform.board);
  body.setVersion(m.version);
  body.setSvn(m.svn);
  body.setImageSize(m.image_size);
  body.setBlockSize(m.block_size);
  body.setHashAlgorithm(schema::HashAlgorithm::SHA256);
  body.setMerkleRoot({m.merkle_root.data(), m.merkle_root.size()});
  body.setSignerKeyId({m.signer_key_id.data(), m.signer_key_id.size()});
  body.setCreatedAt(m.created_at);
  REQUIRE_FALSE(body.hasComponent());
  auto words = capnp::messageToFlatArray(builder);
  auto decoded = decode_body({words.asBytes().begin(), words.asBytes().size()});
  REQUIRE(decoded);
  CHECK(decoded->component == "bios");
  CHECK(*decoded == m);
}

TEST_CASE("a manifest body of the earlier release, byte for byte, decodes as bios") {
  // Signed by the release before components: a ManifestBody of 4 data words and 4 pointers
  // (docs/manifest.md, section 2), QEMU:q35 2.7.1 svn 4, 8192 bytes in blocks of 512.
  auto body = from_hex(
    "0000000013000000000000000400040001000000040000000020000000000000"
    "0002000000000000c086fd6a000000000c000000000002001900000032000000"
    "19000000020100002500000042000000050000002a0000000500000022000000"
    "51454d55000000007133350000000000322e372e31000000debce9e6708f719b"
    "4a7e43072369cc2fe73fb088557a72a753101cc193139e82c5e21ab1c9f6022d");
  REQUIRE(body);
  REQUIRE(body->size() == 160);
  auto decoded = decode_body(*body);
  REQUIRE(decoded);
  CHECK(decoded->component == "bios");
  CHECK(decoded->platform == platform_id{"QEMU", "q35"});
  CHECK(decoded->image_size == 8192);
}

TEST_CASE("a component outside 1 to 32 characters of a-z 0-9 - is refused on decode") {
  const std::vector<std::string> bad_names{"",       "NIC",    "nic ",
                                            "bios\n2", "cpld_1", std::string(33, 'a')};
  for (const auto& bad : bad_names) {
    INFO(bad);
    auto m = sample();
    m.component = bad;
    auto err = validate(m);
    REQUIRE(err);
    CHECK_THAT(describe(err), Catch::Contains("is not 1 to 32 characters of a-z, 0-9 and '-'"));
    // An encoder that skipped validate() (a hostile signer) is caught by the decoder, in one line.
    auto decoded = decode_body(encode_body(m));
    REQUIRE_FALSE(decoded);
    CHECK(has_code(decoded.error(), errc::malformed));
    CHECK(describe(decoded.error()).find('\n') == std::string::npos);
  }
  for (const auto& good : std::vector<std::string>{"bios", "nic", "cpld-2", std::string(32, 'z')}) {
    auto m = sample();
    m.component = good;
    m.format_version = manifest::format_version_for(good);
    CHECK_FALSE(validate(m));
  }
}

TEST_CASE("a manifest for another component than the BIOS is format version 2") {
  // A reader built before components reads version 1 only, so it refuses a NIC's manifest
  // instead of taking it for its BIOS's.
  auto m = sample();
  m.component = "nic";
  m.format_version = manifest::current_format_version;
  auto err = validate(m);
  REQUIRE(err);
  CHECK(describe(err) == "manifest format version 1 does not go with component nic (version 2 "
                         "does)");
  auto decoded = decode_body(encode_body(m));
  REQUIRE_FALSE(decoded);
  m.format_version = manifest::component_format_version;
  CHECK_FALSE(validate(m));
  auto bios = sample();
  bios.format_version = manifest::component_format_version;
  CHECK(validate(bios));
}
