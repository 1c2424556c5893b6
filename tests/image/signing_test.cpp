#include <catch2/catch.hpp>

#include <functional>

#include "common/error.hpp"
#include "image/image_check.hpp"
#include "image/signing.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

constexpr uint32_t block = 512;

struct signed_image {
  test::temp_dir dir;
  std::vector<uint8_t> image;
  secret_key key = secret_key::generate();
  signed_manifest manifest;

  std::string image_path() const {
    return dir.path("image.bin");
  }

  explicit signed_image(size_t size, hash_algorithm alg = hash_algorithm::blake2b_256)
    : image(test::random_bytes(size, size)) {
    test::write_bytes(image_path(), image);
    fwrescue::manifest fields;
    fields.platform = {"Acme", "X11"};
    fields.version = "1.0";
    fields.svn = 3;
    fields.image_size = size;
    fields.block_size = block;
    fields.hash = alg;
    fields.created_at = 1795000000;
    auto hashed = hash_image_file(image_path(), alg, block);
    REQUIRE(hashed);
    auto m = sign_manifest(key, fields, hashed->tree);
    REQUIRE(m);
    manifest = std::move(*m);
  }

  image_verdict verify(const std::vector<public_key>& keys) const {
    auto v = verify_image_file(manifest, keys, image_path());
    REQUIRE(v);
    return *v;
  }

  image_verdict verify() const {
    return verify({key.public_part()});
  }
};

} // namespace

TEST_CASE("a freshly signed image verifies") {
  auto alg = GENERATE(hash_algorithm::blake2b_256, hash_algorithm::sha256);
  signed_image s{5 * block + 17, alg};
  auto v = s.verify();
  CHECK(v.result == image_verdict::outcome::ok);
  REQUIRE(v.signer);
  CHECK(*v.signer == s.key.public_part());
  CHECK(s.manifest.fields.block_count() == 6);
  CHECK(block_digest_tree(s.manifest));
}

TEST_CASE("a change to any signed field is detected") {
  signed_image s{4 * block};
  using mutation = std::function<void(manifest&)>;
  std::vector<std::pair<const char*, mutation>> mutations{
    {"platform vendor", [](manifest& m) { m.platform.vendor = "Acmf"; }},
    {"platform board", [](manifest& m) { m.platform.board = "X12"; }},
    {"version", [](manifest& m) { m.version = "1.1"; }},
    {"svn", [](manifest& m) { m.svn += 1; }},
    {"image size", [](manifest& m) { m.image_size -= 1; }},
    {"block size", [](manifest& m) { m.block_size *= 2; }},
    {"hash", [](manifest& m) { m.hash = hash_algorithm::sha256; }},
    {"merkle root", [](manifest& m) { m.merkle_root[31] ^= 1; }},
    {"created at", [](manifest& m) { m.created_at += 1; }},
  };
  for (auto& [name, mutate] : mutations) {
    INFO(name);
    auto tampered = s.manifest;
    mutate(tampered.fields);
    tampered.body = encode_body(tampered.fields);
    auto checked = check_signature(tampered, std::vector{s.key.public_part()});
    REQUIRE_FALSE(checked);
    CHECK(has_code(checked.error(), errc::bad_signature));
  }
  SECTION("the signer key id") {
    auto tampered = s.manifest;
    tampered.fields.signer_key_id[0] ^= 1;
    tampered.body = encode_body(tampered.fields);
    auto checked = check_signature(tampered, std::vector{s.key.public_part()});
    REQUIRE_FALSE(checked);
    CHECK(has_code(checked.error(), errc::unknown_key));
  }
}

TEST_CASE("a change to any byte of the signed body is detected") {
  signed_image s{2 * block};
  for (size_t at = 0; at < s.manifest.body.size(); ++at) {
    auto body = s.manifest.body;
    body[at] ^= 0x01;
    auto fields = decode_body(body);
    if (!fields)
      continue; // refused as malformed: detected
    auto tampered = s.manifest;
    tampered.body = body;
    tampered.fields = *fields;
    INFO("byte " << at);
    CHECK_FALSE(check_signature(tampered, std::vector{s.key.public_part()}));
  }
}

TEST_CASE("a single-byte change anywhere in a manifest file is refused or changes nothing") {
  signed_image s{3 * block};
  auto bytes = encode_manifest_file(s.manifest);
  auto trusted = std::vector{s.key.public_part()};
  for (size_t at = 0; at < bytes.size(); ++at) {
    auto copy = bytes;
    copy[at] ^= 0x5a;
    auto decoded = decode_manifest_file(copy);
    if (!decoded)
      continue; // refused as malformed
    INFO("byte " << at);
    bool same = decoded->body == s.manifest.body && decoded->sig == s.manifest.sig
                && decoded->block_digests == s.manifest.block_digests;
    if (same)
      continue; // Cap'n Proto framing that is not canonical but says the same thing
    CHECK((!check_signature(*decoded, trusted) || !block_digest_tree(*decoded)));
  }
}

TEST_CASE("a changed signature is detected") {
  signed_image s{block};
  auto tampered = s.manifest;
  tampered.sig[10] ^= 0x80;
  auto checked = check_signature(tampered, std::vector{s.key.public_part()});
  REQUIRE_FALSE(checked);
  CHECK(has_code(checked.error(), errc::bad_signature));
}

TEST_CASE("a change to any image byte is detected and the bad block is named") {
  signed_image s{3 * block + 100};
  for (size_t at = 0; at < s.image.size(); ++at) {
    auto image = s.image;
    image[at] ^= 0x01;
    test::write_bytes(s.image_path(), image);
    auto v = s.verify();
    INFO("byte " << at);
    REQUIRE(v.result == image_verdict::outcome::content);
    CHECK(v.blocks.bad_blocks() == 1);
    CHECK(v.blocks.bad.front().first == at / block);
  }
}

TEST_CASE("the content verdict counts bad blocks and gives the first one's offset") {
  signed_image s{400 * block};
  auto image = s.image;
  for (size_t b : {291, 292, 300, 399})
    image[b * block + 5] ^= 0xff;
  test::write_bytes(s.image_path(), image);
  auto v = s.verify();
  REQUIRE(v.result == image_verdict::outcome::content);
  CHECK(v.blocks.bad_blocks() == 4);
  CHECK(v.detail == "content: 4 of 400 blocks do not match, first bad block 291 at 0x24600");
}

TEST_CASE("a manifest without block digests still detects a content change") {
  signed_image s{4 * block};
  s.manifest.block_digests.clear();
  auto image = s.image;
  image[3 * block] ^= 1;
  test::write_bytes(s.image_path(), image);
  auto v = s.verify();
  CHECK(v.result == image_verdict::outcome::content);
  CHECK_THAT(v.detail, Catch::Contains("cannot be named"));
}

TEST_CASE("a manifest whose block digest list was altered fails, even for the genuine image") {
  signed_image s{5 * block};
  auto which = GENERATE(0, 2, 4);
  s.manifest.block_digests[static_cast<size_t>(which)][7] ^= 0x01;
  auto v = s.verify();
  CHECK(v.result == image_verdict::outcome::manifest);
  CHECK_THAT(v.detail, Catch::Contains("block digest list does not build the signed Merkle root"));

  SECTION("and comparing a matching image against it is an error, not a match") {
    auto hashed = hash_image_file(s.image_path(), s.manifest.fields.hash, block);
    REQUIRE(hashed);
    CHECK_FALSE(compare_blocks(hashed->tree, s.manifest));
  }
}

TEST_CASE("a key other than the signer's is refused") {
  signed_image s{2 * block};
  auto other = secret_key::generate();
  auto v = s.verify({other.public_part()});
  CHECK(v.result == image_verdict::outcome::signature);
  CHECK_THAT(v.detail, Catch::Contains("not among the 1 trusted key"));
  CHECK_FALSE(v.signer);

  SECTION("but found among several") {
    auto v2 = s.verify({other.public_part(), s.key.public_part()});
    CHECK(v2.result == image_verdict::outcome::ok);
  }
}

TEST_CASE("truncated and oversized images are refused by size") {
  signed_image s{4 * block};
  auto truncated = s.image;
  truncated.pop_back();
  test::write_bytes(s.image_path(), truncated);
  auto v = s.verify();
  CHECK(v.result == image_verdict::outcome::size);
  CHECK(v.detail == "size: image is 2047 bytes, the manifest says 2048");

  auto oversized = s.image;
  oversized.push_back(0xff);
  test::write_bytes(s.image_path(), oversized);
  CHECK(s.verify().result == image_verdict::outcome::size);

  test::write_bytes(s.image_path(), {});
  CHECK(s.verify().result == image_verdict::outcome::size);
}

TEST_CASE("a block digest list that does not build the signed root is never used") {
  signed_image s{4 * block};
  s.manifest.block_digests[2][0] ^= 1;
  CHECK_FALSE(block_digest_tree(s.manifest));
  // The file as a whole is altered, whatever the image holds: a matching image does not make
  // the list trustworthy, and a changed one cannot be explained with it.
  SECTION("a matching image") {}
  SECTION("a changed image") {
    auto image = s.image;
    image[0] ^= 1;
    test::write_bytes(s.image_path(), image);
  }
  auto v = s.verify();
  CHECK(v.result == image_verdict::outcome::manifest);
  CHECK(v.blocks.bad.empty()); // nothing is named on the strength of the altered list
}

TEST_CASE("an unreadable image is an error, not a verdict") {
  signed_image s{block};
  auto v = verify_image_file(s.manifest, std::vector{s.key.public_part()},
                             s.dir.path("missing.bin"));
  REQUIRE_FALSE(v);
  CHECK(has_code(v.error(), errc::io_failure));
  CHECK_THAT(describe(v.error()), Catch::Contains("missing.bin: cannot open"));
}

TEST_CASE("a single block from an untrusted source is checked without the image") {
  signed_image s{7 * block + 9};
  auto tree = merkle_tree{s.manifest.fields.hash, s.manifest.block_digests};
  const auto& m = s.manifest.fields;
  for (uint64_t i = 0; i < m.block_count(); ++i) {
    auto bytes = std::span{s.image}.subspan(i * block, m.block_length(i));
    auto path = tree.auth_path(i);
    INFO("block " << i);
    CHECK(verify_block(m, i, bytes, path));
    auto bad = std::vector<uint8_t>(bytes.begin(), bytes.end());
    bad[0] ^= 1;
    CHECK_FALSE(verify_block(m, i, bad, path));
    bad[0] ^= 1;
    bad.push_back(0);
    CHECK_FALSE(verify_block(m, i, bad, path));
  }
  CHECK_FALSE(verify_block(m, m.block_count(), std::span{s.image}.first(block), {}));
}
