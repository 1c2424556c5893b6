#include "hal/boot_history.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <sys/stat.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/hex.hpp"

namespace fwrescue {

namespace {

/// Far above what the bounded files hold, far below what would hurt.
constexpr uint64_t max_history_bytes = 64 * 1024;
constexpr size_t max_detail = 200;

/// The file's text, or an empty string when it does not exist.
caf::expected<std::string> read_text(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT)
    return std::string{};
  auto bytes = read_file(path, max_history_bytes, "boot history");
  if (!bytes)
    return std::move(bytes.error());
  return std::string{bytes->begin(), bytes->end()};
}

caf::error write_text(const std::string& path, const std::string& text) {
  std::span<const uint8_t> bytes{reinterpret_cast<const uint8_t*>(text.data()), text.size()};
  return write_file_atomic(path, bytes, 0644, on_existing::replace, "boot history");
}

caf::error malformed(const std::string& path, size_t line, const std::string& what) {
  return make_error(errc::malformed, fmt::format("boot history {}: line {}: {}", path, line, what));
}

/// One printable line of at most max_detail characters.
std::string printable_line(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, max_detail))
    out.push_back(c >= 0x20 && c <= 0x7e ? c : '?');
  return out;
}

std::optional<digest> parse_root(std::string_view hex) {
  auto bytes = from_hex(hex);
  if (!bytes || bytes->size() != digest{}.size())
    return std::nullopt;
  digest d;
  std::copy(bytes->begin(), bytes->end(), d.begin());
  return d;
}

template <class Fn>
caf::error for_each_line(std::string_view text, Fn&& fn) {
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.empty())
      continue;
    if (auto err = fn(line, line_no))
      return err;
  }
  return caf::none;
}

/// The next space-separated word of `line`, removed from it.
std::string_view next_word(std::string_view& line) {
  auto space = line.find(' ');
  auto word = line.substr(0, space);
  line.remove_prefix(space == std::string_view::npos ? line.size() : space + 1);
  return word;
}

} // namespace

boot_history::boot_history(std::string dir) : dir_(std::move(dir)) {
}

std::string boot_history::history_path() const {
  return (std::filesystem::path{dir_} / "boot_history").string();
}

std::string boot_history::failed_path() const {
  return (std::filesystem::path{dir_} / "failed_roots").string();
}

caf::expected<std::vector<boot_record>> boot_history::records() const {
  auto path = history_path();
  auto text = read_text(path);
  if (!text)
    return std::move(text.error());
  std::vector<boot_record> out;
  auto err = for_each_line(*text, [&](std::string_view line, size_t no) -> caf::error {
    boot_record r;
    auto at = next_word(line);
    if (std::from_chars(at.data(), at.data() + at.size(), r.at).ec != std::errc{})
      return malformed(path, no, "the time is not a number");
    auto verdict = next_word(line);
    if (verdict != "booted" && verdict != "failed")
      return malformed(path, no, "expected 'booted' or 'failed'");
    r.booted = verdict == "booted";
    auto root = parse_root(next_word(line));
    if (!root)
      return malformed(path, no, "the root is not 64 hex digits");
    r.root = *root;
    r.outcome = std::string{next_word(line)};
    r.detail = printable_line(line);
    out.push_back(std::move(r));
    return caf::none;
  });
  if (err)
    return err;
  return out;
}

caf::error boot_history::record(boot_record r) {
  auto history = records();
  if (!history)
    return history.error();
  history->push_back(std::move(r));
  auto skip = history->size() > max_boot_records ? history->size() - max_boot_records : 0;
  std::string text;
  for (auto i = history->begin() + static_cast<std::ptrdiff_t>(skip); i != history->end(); ++i)
    text += fmt::format("{} {} {} {} {}\n", i->at, i->booted ? "booted" : "failed",
                        to_hex(i->root), i->outcome.empty() ? "-" : i->outcome,
                        printable_line(i->detail));
  return write_text(history_path(), text);
}

caf::expected<std::vector<digest>> boot_history::failed_roots() const {
  auto path = failed_path();
  auto text = read_text(path);
  if (!text)
    return std::move(text.error());
  std::vector<digest> out;
  auto err = for_each_line(*text, [&](std::string_view line, size_t no) -> caf::error {
    auto root = parse_root(line);
    if (!root)
      return malformed(path, no, "not a root of 64 hex digits");
    out.push_back(*root);
    return caf::none;
  });
  if (err)
    return err;
  return out;
}

caf::error boot_history::add_failed_root(const digest& root) {
  auto roots = failed_roots();
  if (!roots)
    return roots.error();
  if (std::find(roots->begin(), roots->end(), root) != roots->end())
    return caf::none;
  roots->push_back(root);
  auto skip = roots->size() > max_failed_roots ? roots->size() - max_failed_roots : 0;
  std::string text;
  for (auto i = roots->begin() + static_cast<std::ptrdiff_t>(skip); i != roots->end(); ++i)
    text += to_hex(*i) + "\n";
  return write_text(failed_path(), text);
}

uint32_t failures_in_a_row(const std::vector<boot_record>& history, const digest& root) {
  uint32_t n = 0;
  for (auto i = history.rbegin(); i != history.rend() && !i->booted && i->root == root; ++i)
    ++n;
  return n;
}

} // namespace fwrescue
