#pragma once

#include <compare>
#include <string_view>

namespace fwrescue {

/// Compares two version strings naturally: runs of digits compare as numbers ("2.10" > "2.9",
/// "1.02" is equivalent to "1.2"), every other byte compares by its value, a number sorts after
/// any byte below '0' and before any byte above '9', and a string that is a prefix of the other
/// is the smaller ("2.1" < "2.1.1" < "2.1a"). Suffixes get no special meaning: "2.1-rc1" is newer
/// than "2.1". Numbers of any length compare correctly (no overflow).
std::weak_ordering version_compare(std::string_view a, std::string_view b);

} // namespace fwrescue
