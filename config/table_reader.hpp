#pragma once

// The reader of the configuration's TOML tables and the checks its values go through, shared by
// the files that read each section (config/*_sections.cpp).

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/error.hpp"

namespace fwrescue::config_detail {

namespace fs = std::filesystem;

constexpr int64_t u32_max = std::numeric_limits<uint32_t>::max();

/// Makes untrusted text safe inside a one-line message: control and non-ASCII bytes become \xNN
/// and long text is cut, so a stray newline in a value cannot split the error line. Inside
/// quotes, `"` and `\` are escaped too so the quoted value reads unambiguously.
std::string printable(std::string_view s, bool quoted = false);

std::string quote(std::string_view s);
/// "got …" after a type mismatch: the kind of value, and the value itself for scalars.
std::string kind_of(const toml::node& n);
/// "got …" after a value of the right type was refused: just the value.
std::string value_of(const toml::node& n);

std::string one_of_text(std::initializer_list<std::string_view> allowed);

bool valid_id(std::string_view s);
/// The manifest's text rule, so the platform here can be compared with a manifest's.
bool valid_platform_text(std::string_view s);

bool valid_ipv4(std::string_view s);

bool valid_endpoint(std::string_view s);

bool valid_endpoint_or_empty(std::string_view s);

bool valid_path(std::string_view s);

bool non_empty(std::string_view s);

bool all_printable(std::string_view s);
/// flashrom's "name[:parameters]": a name before any ':', printable throughout.
bool valid_programmer(std::string_view s);

bool valid_chip_name(std::string_view s);
/// A version as manifests carry it, so a pin or list entry can match a manifest's version.
bool valid_version(std::string_view s);

bool valid_version_or_none(std::string_view s);

/// Collects the problems found while reading a document. The one earliest in the file becomes
/// the error, so fixing them top to bottom works; missing keys have no line and come last.
class diagnostics {
public:
  explicit diagnostics(std::string source) : source_(std::move(source)) {
  }

  void at(const toml::source_region& where, std::string text) {
    issues_.push_back({where.begin.line, std::move(text)});
  }

  void wrong_type(const toml::node& n, const std::string& key, std::string_view what) {
    at(n.source(), fmt::format("key '{}': expected {}, got {}", key, what, kind_of(n)));
  }

  void bad_value(const toml::node& n, const std::string& key, std::string_view what) {
    at(n.source(), fmt::format("key '{}': expected {}, got {}", key, what, value_of(n)));
  }

  void missing(const std::string& key) {
    issues_.push_back({0, fmt::format("missing required key '{}'", key)});
  }

  caf::error first() const {
    auto earliest = std::min_element(issues_.begin(), issues_.end(), [](auto& a, auto& b) {
      return a.line != 0 && (b.line == 0 || a.line < b.line);
    });
    if (earliest == issues_.end())
      return caf::none;
    if (earliest->line == 0)
      return make_error(errc::invalid_argument, fmt::format("{}: {}", source_, earliest->text));
    return make_error(errc::invalid_argument,
                      fmt::format("{}:{}: {}", source_, earliest->line, earliest->text));
  }

private:
  struct issue {
    toml::source_index line;
    std::string text;
  };

  std::string source_;
  std::vector<issue> issues_;
};

/// Reads the keys of one table and remembers which were asked for, so that `finish` can report
/// the rest as unknown. A reader over an absent table finds nothing and reports only missing
/// required keys.
class table_reader {
public:
  table_reader(diagnostics& diag, const toml::table* table, std::string prefix,
               const fs::path& base)
    : diag_(diag), table_(table), prefix_(std::move(prefix)), base_(base) {
  }

  std::string name(std::string_view key) const {
    return prefix_.empty() ? std::string{key} : prefix_ + "." + std::string{key};
  }

  /// The value at `key`, or null when absent; reports `key` missing when it is required.
  const toml::node* find(std::string_view key, bool required = false) {
    used_.emplace(key);
    auto* n = table_ ? table_->get(key) : nullptr;
    if (!n && required)
      diag_.missing(name(key));
    return n;
  }

  /// Whether `key` is present, valid or not.
  bool has(std::string_view key) const {
    return table_ && table_->contains(key);
  }

  /// The reader of the sub-table `key` ([section]); absent reads as empty.
  table_reader child(std::string_view key) {
    auto* n = find(key);
    if (n && !n->is_table())
      diag_.wrong_type(*n, name(key), fmt::format("a table ([{}])", name(key)));
    return table_reader{diag_, n ? n->as_table() : nullptr, name(key), base_};
  }

  /// A string that `valid` accepts; `what` says what that is for the error.
  const toml::node* text(std::string_view key, std::string& out, bool required,
                         std::string_view what, bool (*valid)(std::string_view)) {
    auto* n = find(key, required);
    if (!n)
      return nullptr;
    auto* v = n->as_string();
    if (!v) {
      diag_.wrong_type(*n, name(key), what);
      return nullptr;
    }
    if (!valid(v->get())) {
      diag_.bad_value(*n, name(key), what);
      return nullptr;
    }
    out = v->get();
    return n;
  }

  void one_of(std::string_view key, std::string& out,
              std::initializer_list<std::string_view> allowed) {
    auto* n = find(key);
    if (!n)
      return;
    auto* v = n->as_string();
    if (!v)
      return diag_.wrong_type(*n, name(key), one_of_text(allowed));
    if (std::find(allowed.begin(), allowed.end(), v->get()) == allowed.end())
      return diag_.bad_value(*n, name(key), one_of_text(allowed));
    out = v->get();
  }

  void boolean(std::string_view key, bool& out) {
    auto* n = find(key);
    if (!n)
      return;
    if (auto* v = n->as_boolean())
      out = v->get();
    else
      diag_.wrong_type(*n, name(key), "true or false");
  }

  /// An integer in min..max that also passes `valid` (described by `what` when given).
  template <class Int>
  const toml::node* integer(std::string_view key, Int& out, int64_t min, int64_t max,
                            std::string_view what = {}, bool (*valid)(int64_t) = nullptr) {
    auto* n = find(key);
    if (!n)
      return nullptr;
    auto range =
      what.empty() ? fmt::format("an integer from {} to {}", min, max) : std::string{what};
    auto* v = n->as_integer();
    if (!v) {
      diag_.wrong_type(*n, name(key), range);
      return nullptr;
    }
    if (v->get() < min || v->get() > max || (valid && !valid(v->get()))) {
      diag_.bad_value(*n, name(key), range);
      return nullptr;
    }
    out = static_cast<Int>(v->get());
    return n;
  }

  /// A number, integer or float, in min..max (which also keeps out nan and inf).
  void number(std::string_view key, double& out, double min, double max) {
    auto* n = find(key);
    if (!n)
      return;
    auto what = fmt::format("a number from {} to {}", min, max);
    double value = 0;
    if (auto* f = n->as_floating_point())
      value = f->get();
    else if (auto* i = n->as_integer())
      value = static_cast<double>(i->get());
    else
      return diag_.wrong_type(*n, name(key), what);
    if (!(value >= min && value <= max))
      return diag_.bad_value(*n, name(key), what);
    out = value;
  }

  /// A path, stored absolute and normalised; `allow_empty` keeps "" to mean "the default".
  void path(std::string_view key, std::string& out, bool required, bool allow_empty = false) {
    auto* n = find(key, required);
    if (!n)
      return;
    auto* v = n->as_string();
    if (v && allow_empty && v->get().empty()) {
      out.clear();
      return;
    }
    auto what = allow_empty ? "a path string (empty for the default)" : "a non-empty path string";
    if (!v)
      return diag_.wrong_type(*n, name(key), what);
    if (!valid_path(v->get()))
      return diag_.bad_value(*n, name(key), what);
    out = resolve(v->get());
  }

  /// An array of strings accepted by `valid`, non-empty when `required`; `what` describes the
  /// array and `each` one entry. With `paths`, the entries are resolved like `path`.
  void list(std::string_view key, std::vector<std::string>& out, bool required,
            std::string_view what, std::string_view each, bool (*valid)(std::string_view),
            bool paths = false) {
    auto* n = find(key, required);
    if (!n)
      return;
    auto* arr = n->as_array();
    if (!arr)
      return diag_.wrong_type(*n, name(key), what);
    if (required && arr->empty())
      return diag_.at(n->source(),
                      fmt::format("key '{}': expected {}, got an empty array", name(key), what));
    std::vector<std::string> values;
    for (size_t i = 0; i < arr->size(); ++i) {
      auto& item = *arr->get(i);
      auto item_name = fmt::format("{}[{}]", name(key), i);
      auto* v = item.as_string();
      if (!v)
        return diag_.wrong_type(item, item_name, each);
      if (!valid(v->get()))
        return diag_.bad_value(item, item_name, each);
      values.push_back(paths ? resolve(v->get()) : v->get());
    }
    out = std::move(values);
  }

  /// Reports every key nobody asked for. A [table] or [[table]] is an unknown table.
  void finish() {
    if (!table_)
      return;
    for (auto&& [key, value] : *table_) {
      if (used_.count(key.str()) != 0)
        continue;
      auto* arr = value.as_array();
      bool is_table = (value.is_table() && !value.as_table()->is_inline())
                      || (arr && !arr->empty() && arr->is_array_of_tables());
      auto line = key.source().begin.line != 0 ? key.source() : value.source();
      diag_.at(line, fmt::format("unknown {} '{}'", is_table ? "table" : "key",
                                 printable(name(key.str()))));
    }
  }

  /// The reader of one [[key]] entry, named "key[index]" in errors.
  table_reader element(std::string_view key, size_t index, const toml::table& table) {
    return table_reader{diag_, &table, fmt::format("{}[{}]", name(key), index), base_};
  }

  diagnostics& diag() {
    return diag_;
  }

private:
  std::string resolve(const std::string& p) const {
    auto full = (base_ / p).lexically_normal();
    // "state/" and "state" name the same directory; store one spelling.
    if (!full.has_filename() && full.has_parent_path() && full != full.root_path())
      full = full.parent_path();
    return full.string();
  }

  diagnostics& diag_;
  const toml::table* table_;
  std::string prefix_;
  const fs::path& base_;
  std::set<std::string, std::less<>> used_;
};

} // namespace fwrescue::config_detail
