// Fuzzes the node configuration parser, parse_config() (config/node_config.hpp): TOML syntax
// (toml++) and every key's validation. An operator's file is not hostile, but a mistyped one
// must be an error that names the line, never a crash or an exception escaping to main().
//
// `fuzz/config.dict` holds the section and key names, so mutations reach the validation of
// every key rather than stopping at "unknown key".

#include <cstdint>
#include <string_view>

#include <toml++/impl/version.h>

#include "common/error.hpp"
#include "config/node_config.hpp"
#include "fuzz/fuzz_check.hpp"

namespace fwrescue::fuzz {
namespace {

#if TOML_LIB_MAJOR == 3 && TOML_LIB_MINOR <= 3
/// toml++ 3.3.0 (Debian 12) reaches __builtin_unreachable() when it asks whether some non-ASCII
/// characters are whitespace (is_non_ascii_horizontal_whitespace; upstream issue
/// marzer/tomlplusplus#190): undefined behaviour in the parser itself, found by this fuzzer and
/// reported in docs/fuzzing.md. Inputs holding such a character are skipped, so the fuzzer keeps
/// looking for other bugs instead of finding this one in every run. This reproduces that
/// function's table: the characters that pass its bitmask but none of its cases.
bool toml_cannot_classify(char32_t c) {
  if (c < 0xa0 || c > 0xfeff || c == 0xa0 || c == 0x3000 || c == 0xfeff)
    return false;
  auto child = (static_cast<uint64_t>(c) - 0xa0) / 0x3fa;
  return ((1ull << child) & 0x7ffffffffffff75eull) == 0 && child != 5 && child != 7;
}

/// Whether the UTF-8 in `text` encodes such a character (decoded loosely: a false alarm only
/// skips an input).
bool holds_unclassifiable(std::string_view text) {
  auto cont = [&](size_t i) { return i < text.size() && (text[i] & 0xc0) == 0x80; };
  for (size_t i = 0; i < text.size(); ++i) {
    auto b = static_cast<uint8_t>(text[i]);
    char32_t c = 0;
    if ((b & 0xe0) == 0xc0 && cont(i + 1))
      c = (b & 0x1f) << 6 | (text[i + 1] & 0x3f);
    else if ((b & 0xf0) == 0xe0 && cont(i + 1) && cont(i + 2))
      c = (b & 0x0f) << 12 | (text[i + 1] & 0x3f) << 6 | (text[i + 2] & 0x3f);
    if (toml_cannot_classify(c))
      return true;
  }
  return false;
}
#else
bool holds_unclassifiable(std::string_view) {
  return false;
}
#endif

} // namespace
} // namespace fwrescue::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fwrescue;
  std::string_view text{reinterpret_cast<const char*>(data), size};
  if (fuzz::holds_unclassifiable(text))
    return 0;
  // An absolute source, so relative paths resolve without asking for the working directory.
  auto cfg = parse_config(text, "/fuzz/node.toml");
  if (cfg)
    fuzz::check(!cfg->admin_socket().empty(), "a valid config has an admin socket");
  else
    fuzz::check(!describe(cfg.error()).empty(), "an error says what is wrong");
  return 0;
}
