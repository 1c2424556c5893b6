#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fwrescue {

/// Lower-case hexadecimal of `bytes`.
std::string to_hex(std::span<const uint8_t> bytes);

/// Bytes of a hexadecimal string (either case); nothing when the text is not hex of even length.
std::optional<std::vector<uint8_t>> from_hex(std::string_view text);

} // namespace fwrescue
