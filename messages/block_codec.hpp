#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <caf/expected.hpp>

namespace fwrescue {

/// The zstd level a donor compresses block runs with: on the slow links compression is used
/// for, the link, not the CPU, bounds the rate, and higher levels gain little on firmware.
constexpr int block_zstd_level = 3;

/// Compresses a run of blocks into one zstd frame (its content size recorded), or nothing when
/// the frame would not be smaller than the run: such a run is sent raw.
std::optional<std::vector<uint8_t>> compress_run(std::span<const uint8_t> run);

/// Decompresses one zstd frame from an untrusted donor into at most `max_bytes`. A frame that
/// is not exactly one valid frame, or that would yield more than `max_bytes` (a decompression
/// bomb), is errc::malformed; no more than `max_bytes` is ever allocated.
caf::expected<std::vector<uint8_t>> decompress_run(std::span<const uint8_t> frame,
                                                   size_t max_bytes);

} // namespace fwrescue
