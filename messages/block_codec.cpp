#include "messages/block_codec.hpp"

#include <fmt/format.h>
#include <zstd.h>

#include "common/error.hpp"

namespace fwrescue {

namespace {

caf::error bad_frame(const std::string& what) {
  return make_error(errc::malformed, "compressed block run: " + what);
}

} // namespace

std::optional<std::vector<uint8_t>> compress_run(std::span<const uint8_t> run) {
  std::vector<uint8_t> out(ZSTD_compressBound(run.size()));
  auto n = ZSTD_compress(out.data(), out.size(), run.data(), run.size(), block_zstd_level);
  if (ZSTD_isError(n) || n >= run.size())
    return std::nullopt;
  out.resize(n);
  return out;
}

caf::expected<std::vector<uint8_t>> decompress_run(std::span<const uint8_t> frame,
                                                   size_t max_bytes) {
  // The frame's own size must be exact: bytes after it would be a second frame, unbounded by
  // the check below.
  auto frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size))
    return bad_frame(fmt::format("not a zstd frame ({})", ZSTD_getErrorName(frame_size)));
  if (frame_size != frame.size())
    return bad_frame(fmt::format("{} bytes follow the zstd frame of {} bytes",
                                 frame.size() - frame_size, frame_size));
  // The size the frame declares is only a claim; decompressing into a buffer of at most
  // max_bytes is what holds the bound, whatever the frame says.
  auto declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR)
    return bad_frame("its header is invalid");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > max_bytes)
    return bad_frame(
      fmt::format("it declares {} bytes, more than the {} expected", declared, max_bytes));
  std::vector<uint8_t> out(declared != ZSTD_CONTENTSIZE_UNKNOWN ? declared : max_bytes);
  auto n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n))
    return bad_frame(fmt::format("it does not decompress into at most {} bytes ({})", out.size(),
                                 ZSTD_getErrorName(n)));
  if (n == 0)
    return bad_frame("it holds no bytes");
  out.resize(n);
  return out;
}

} // namespace fwrescue
