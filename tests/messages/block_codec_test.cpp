#include <catch2/catch.hpp>

#include <zstd.h>

#include "common/error.hpp"
#include "messages/block_codec.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fwrescue;

namespace {

/// Firmware-like bytes: runs of 0xff padding and repeated tables between random code.
std::vector<uint8_t> compressible(size_t n) {
  auto out = test::random_bytes(n, 7);
  for (size_t i = 0; i < n; ++i)
    if ((i / 512) % 3 != 0)
      out[i] = (i / 512) % 3 == 1 ? 0xff : static_cast<uint8_t>(i % 64);
  return out;
}

/// A zstd frame that does not record its content size, as a hostile donor may write it.
std::vector<uint8_t> frame_without_size(std::span<const uint8_t> bytes) {
  auto* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  std::vector<uint8_t> out(ZSTD_compressBound(bytes.size()));
  auto n = ZSTD_compress2(cctx, out.data(), out.size(), bytes.data(), bytes.size());
  ZSTD_freeCCtx(cctx);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string error_of(caf::expected<std::vector<uint8_t>> r) {
  REQUIRE_FALSE(r);
  CHECK(has_code(r.error(), errc::malformed));
  return describe(r.error());
}

} // namespace

TEST_CASE("a compressible run is smaller and comes back unchanged") {
  auto run = compressible(64 * 1024);
  auto frame = compress_run(run);
  REQUIRE(frame);
  CHECK(frame->size() < run.size() / 2);
  auto back = decompress_run(*frame, run.size());
  REQUIRE(back);
  CHECK(*back == run);
}

TEST_CASE("a run that does not get smaller is not compressed") {
  CHECK_FALSE(compress_run(test::random_bytes(64 * 1024, 3)));
  CHECK_FALSE(compress_run(test::random_bytes(16, 4)));
}

TEST_CASE("a run that would decompress beyond its bound is refused, whatever it declares") {
  using Catch::Contains;
  // 1 MiB of 0xff compresses to a few dozen bytes: a bomb for a bound of 4 KiB.
  std::vector<uint8_t> big(1 << 20, 0xff);
  auto bomb = compress_run(big);
  REQUIRE(bomb);
  REQUIRE(bomb->size() < 1024);
  CHECK_THAT(error_of(decompress_run(*bomb, 4096)),
             Contains("it declares 1048576 bytes, more than the 4096 expected"));
  CHECK_THAT(error_of(decompress_run(frame_without_size(big), 4096)),
             Contains("it does not decompress into at most 4096 bytes"));
  // The same frames within their bound are fine.
  CHECK(decompress_run(*bomb, big.size()));
  CHECK(decompress_run(frame_without_size(big), big.size()));
}

TEST_CASE("anything but exactly one zstd frame is refused") {
  using Catch::Contains;
  auto frame = compress_run(compressible(8192));
  REQUIRE(frame);
  auto two = *frame;
  two.insert(two.end(), frame->begin(), frame->end());
  CHECK_THAT(error_of(decompress_run(two, 1 << 20)), Contains("bytes follow the zstd frame"));
  auto cut = std::vector<uint8_t>(frame->begin(), frame->end() - 3);
  CHECK_THAT(error_of(decompress_run(cut, 1 << 20)), Contains("not a zstd frame"));
  CHECK_THAT(error_of(decompress_run(test::random_bytes(64, 5), 1 << 20)),
             Contains("not a zstd frame"));
  auto flipped = *frame;
  flipped[flipped.size() / 2] ^= 0x40;
  // zstd checksums its content: a flipped byte is an error, never other bytes passed on (and
  // blocks are checked against their digests anyway).
  auto changed = decompress_run(flipped, 8192);
  CHECK_FALSE((changed && *changed == compressible(8192)));
}
