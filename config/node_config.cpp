#include "config/node_config.hpp"

#include <algorithm>
#include <cctype>
#include <arpa/inet.h>
#include <charconv>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/error.hpp"
#include "common/file_io.hpp"

namespace fwrescue {

namespace {

namespace fs = std::filesystem;

/// A configuration is a page of text; anything bigger is a mistake, not a config.
constexpr uint64_t max_config_bytes = 1u << 20;
constexpr int64_t u32_max = std::numeric_limits<uint32_t>::max();

/// Makes untrusted text safe inside a one-line message: control and non-ASCII bytes become \xNN
/// and long text is cut, so a stray newline in a value cannot split the error line. Inside
/// quotes, `"` and `\` are escaped too so the quoted value reads unambiguously.
std::string printable(std::string_view s, bool quoted = false) {
  constexpr size_t max_shown = 80;
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (quoted && (c == '\\' || c == '"'))
      out += fmt::format("\\{}", static_cast<char>(c));
    else if (c < 0x20 || c > 0x7e)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (s.size() > max_shown)
    out += "...";
  return out;
}

std::string quote(std::string_view s) {
  return "\"" + printable(s, true) + "\"";
}

/// "got …" after a type mismatch: the kind of value, and the value itself for scalars.
std::string kind_of(const toml::node& n) {
  if (auto* v = n.as_string())
    return "a string (" + quote(v->get()) + ")";
  if (auto* v = n.as_integer())
    return fmt::format("an integer ({})", v->get());
  if (auto* v = n.as_floating_point())
    return fmt::format("a float ({})", v->get());
  if (auto* v = n.as_boolean())
    return fmt::format("a boolean ({})", v->get());
  if (n.is_array())
    return "an array";
  if (n.is_table())
    return "a table";
  if (n.is_date_time())
    return "a date-time";
  if (n.is_date())
    return "a date";
  return "a time";
}

/// "got …" after a value of the right type was refused: just the value.
std::string value_of(const toml::node& n) {
  if (auto* v = n.as_string())
    return quote(v->get());
  if (auto* v = n.as_integer())
    return std::to_string(v->get());
  if (auto* v = n.as_floating_point())
    return fmt::format("{}", v->get());
  return kind_of(n);
}

std::string one_of_text(std::initializer_list<std::string_view> allowed) {
  std::string out = "one of ";
  for (auto a : allowed)
    out += (out.size() > 7 ? ", " : "") + quote(a);
  return out;
}

bool valid_id(std::string_view s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
           || c == '_' || c == '-';
  });
}

/// The manifest's text rule, so the platform here can be compared with a manifest's.
bool valid_platform_text(std::string_view s) {
  return !s.empty() && s.size() <= manifest_limits::max_text
         && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool valid_ipv4(std::string_view s) {
  // A NUL would end the text early for inet_pton and let trailing junk through.
  if (s.find('\0') != std::string_view::npos)
    return false;
  in_addr addr{};
  return ::inet_pton(AF_INET, std::string{s}.c_str(), &addr) == 1;
}

bool valid_endpoint(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || !valid_ipv4(s.substr(0, colon)))
    return false;
  auto port_text = s.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  return ec == std::errc{} && end == port_text.data() + port_text.size() && !port_text.empty()
         && port >= 1 && port <= 65535;
}

bool valid_path(std::string_view s) {
  // A NUL would silently cut the path when the daemon opens it.
  return !s.empty() && s.find('\0') == std::string_view::npos;
}

bool non_empty(std::string_view s) {
  return !s.empty();
}

bool all_printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

/// flashrom's "name[:parameters]": a name before any ':', printable throughout.
bool valid_programmer(std::string_view s) {
  return !s.empty() && s.front() != ':' && all_printable(s);
}

bool valid_chip_name(std::string_view s) {
  return !s.empty() && all_printable(s);
}

/// A version as manifests carry it, so a pin or list entry can match a manifest's version.
bool valid_version(std::string_view s) {
  return valid_platform_text(s);
}

bool valid_version_or_none(std::string_view s) {
  return s.empty() || valid_version(s);
}

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

bool power_of_two(int64_t v) {
  return v > 0 && (v & (v - 1)) == 0;
}

void read_node(table_reader r, node_config& cfg) {
  r.text("id", cfg.id, true, "a string of 1 to 32 characters from A-Z a-z 0-9 . _ -", valid_id);
  std::string role = to_string(cfg.role);
  r.one_of("role", role, {"peer", "console"});
  cfg.role = role == "console" ? node_role::console : node_role::peer;
  r.path("key", cfg.key, true);
  r.path("state_dir", cfg.state_dir, true);
  r.one_of("log_level", cfg.log_level, {"debug", "info", "warn", "error"});
  r.finish();
}

void read_platform(table_reader r, platform_id& platform) {
  constexpr auto what = "a string of 1 to 64 printable ASCII characters";
  r.text("vendor", platform.vendor, true, what, valid_platform_text);
  r.text("board", platform.board, true, what, valid_platform_text);
  r.finish();
}

void read_trust(table_reader r, node_config& cfg) {
  r.list("manifest_keys", cfg.manifest_keys, true, "an array of at least one path string",
         "a non-empty path string", valid_path, true);
  r.integer("svn_floor", cfg.svn_floor, 0, u32_max);
  r.list("console_keys", cfg.console_keys, false, "an array of path strings",
         "a non-empty path string", valid_path, true);
  r.list("revocation_keys", cfg.revocation_keys, false, "an array of path strings",
         "a non-empty path string", valid_path, true);
  r.path("revocation_list", cfg.revocation_list, false, true);
  r.finish();
}

bool zero_or_power_of_two(int64_t v) {
  return v == 0 || power_of_two(v);
}

/// The chip's block erase and timing model. A preset fills the datasheet figures of a part, and
/// keys given beside it override them. `erase_ok`, `program_ok`: the erase and program sizes
/// were read well (or defaulted), so messages comparing with them talk about values the user
/// wrote.
void read_flash_timing(table_reader& r, flash_config& flash, bool erase_ok, bool program_ok) {
  auto* timing = r.find("timing");
  r.one_of("timing", flash.timing, {"none", "w25q256"});
  if (flash.timing == "w25q256") {
    // The figures are per 4 KiB sector and 256-byte page: for other sizes they would be wrong.
    if (erase_ok && program_ok && (flash.erase_size != 4096 || flash.program_size != 256))
      r.diag().bad_value(*timing, r.name("timing"),
                         fmt::format("\"none\" (\"w25q256\" has 4096-byte sectors and "
                                     "256-byte pages; flash.erase_size is {}, program_size {})",
                                     flash.erase_size, flash.program_size));
    flash.erase_us = 45000;
    flash.block_erase_us = 150000;
    flash.program_us = 700;
  }
  constexpr int64_t max_pow2 = int64_t{1} << 31;
  auto* block = r.integer("block_erase_size", flash.block_erase_size, 0, max_pow2,
                          "0 or a power of two up to 2147483648", zero_or_power_of_two);
  if (block && erase_ok && flash.block_erase_size != 0
      && flash.block_erase_size < flash.erase_size)
    r.diag().bad_value(*block, r.name("block_erase_size"),
                       fmt::format("0 or a multiple of flash.erase_size ({})", flash.erase_size));
  else if (!r.has("block_erase_size") && flash.block_erase_size <= flash.erase_size)
    flash.block_erase_size = 0; // sectors as large as the default block: no block erase
  r.integer("erase_us", flash.erase_us, 0, u32_max);
  r.integer("block_erase_us", flash.block_erase_us, 0, u32_max);
  r.integer("program_us", flash.program_us, 0, u32_max);
}

void read_flash(table_reader r, flash_config& flash) {
  // The name is checked against the backend registry built in main(), which knows the names
  // (a test binary adds its own).
  r.text("backend", flash.backend, false, "a non-empty string (a flash backend name)", non_empty);
  r.path("path", flash.path, flash.backend == "file");
  r.text("programmer", flash.programmer, flash.backend == "flashrom",
         "a flashrom programmer string, name[:parameters], of printable ASCII", valid_programmer);
  r.text("chip", flash.chip, false, "a chip name from flashrom's list, of printable ASCII",
         valid_chip_name);
  constexpr int64_t max_pow2 = int64_t{1} << 31;
  auto* erase = r.integer("erase_size", flash.erase_size, 256, max_pow2,
                          "a power of two from 256 to 2147483648", power_of_two);
  auto* program = r.integer("program_size", flash.program_size, 1, max_pow2,
                            "a power of two from 1 to 2147483648", power_of_two);
  // Compare only against an erase size that was read well (or defaulted), or the message
  // would talk about a value the user did not write.
  if (program && (erase || !r.has("erase_size")) && flash.program_size > flash.erase_size)
    r.diag().bad_value(
      *program, r.name("program_size"),
      fmt::format("a power of two no larger than flash.erase_size ({})", flash.erase_size));
  read_flash_timing(r, flash, erase || !r.has("erase_size"), program || !r.has("program_size"));
  // Whole sectors, so that erasing the region never touches a byte outside it.
  auto sectors = [&](const char* key, uint64_t& out) {
    auto* n = r.integer(
      key, out, 0, int64_t{1} << 48,
      fmt::format("a multiple of flash.erase_size ({}) from 0 to 2^48", flash.erase_size));
    if (n && (erase || !r.has("erase_size")) && out % flash.erase_size != 0)
      r.diag().bad_value(*n, r.name(key),
                         fmt::format("a multiple of flash.erase_size ({})", flash.erase_size));
  };
  sectors("region_offset", flash.region_offset);
  sectors("region_size", flash.region_size);
  r.finish();
}

bool valid_argument(std::string_view s) {
  return !s.empty() && s.size() <= 4096
         && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

/// A machine type, and nothing after it: the backend appends its own machine options.
bool valid_machine(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

void read_host_power(table_reader r, host_power_config& host_power) {
  r.text("backend", host_power.backend, false, "a non-empty string (a host power backend name)",
         non_empty);
  r.one_of("during_flash", host_power.during_flash, {"off", "reset", "on", "running"});
  if (host_power.during_flash == "running")
    host_power.during_flash = "on";
  auto* after = r.find("after_flash");
  r.one_of("after_flash", host_power.after_flash, {"restore", "reset", "leave"});
  // Leaving a host that was turned off for the write would leave it off after a success.
  if (after && host_power.after_flash == "leave" && host_power.during_flash != "on")
    r.diag().bad_value(*after, r.name("after_flash"),
                       "\"restore\" or \"reset\" (\"leave\" needs host_power.during_flash = "
                       "\"on\": a host turned off for the write is never left off)");
  r.one_of("at_start", host_power.at_start, {"keep", "on", "off"});
  r.text("qemu_binary", host_power.qemu_binary, false, "a non-empty string (a program name or "
         "path)", non_empty);
  r.text("qemu_machine", host_power.qemu_machine, false, "a QEMU machine type such as \"q35\"",
         valid_machine);
  r.integer("qemu_memory_mib", host_power.qemu_memory_mib, 16, 65536);
  r.one_of("qemu_accel", host_power.qemu_accel, {"tcg", "kvm", "auto"});
  r.list("qemu_args", host_power.qemu_args, false, "an array of strings",
         "a non-empty string of printable ASCII", valid_argument);
  r.path("firmware", host_power.firmware, false, true);
  r.integer("firmware_offset", host_power.firmware_offset, 0, int64_t{1} << 48);
  r.integer("firmware_size", host_power.firmware_size, 0, int64_t{1} << 48);
  r.path("vars_template", host_power.vars_template, false);
  r.integer("start_timeout_ms", host_power.start_timeout_ms, 100, 600000);
  r.integer("powerdown_timeout_ms", host_power.powerdown_timeout_ms, 0, 600000);
  r.integer("qmp_timeout_ms", host_power.qmp_timeout_ms, 100, 600000);
  r.finish();
}

bool valid_pattern(std::string_view s) {
  return !s.empty() && s.size() <= 256
         && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

void read_boot(table_reader r, boot_config& boot) {
  r.boolean("watch", boot.watch);
  r.path("console", boot.console, false, true);
  r.list("success_patterns", boot.success_patterns, false, "a non-empty array of strings",
         "a string of 1 to 256 printable ASCII characters", valid_pattern);
  // No pattern could ever match: every boot would count as failed.
  if (auto* n = r.find("success_patterns"); n && boot.success_patterns.empty())
    r.diag().bad_value(*n, r.name("success_patterns"), "a non-empty array of strings");
  r.integer("timeout_s", boot.timeout_s, 1, 86400);
  r.integer("failures_to_exclude", boot.failures_to_exclude, 1, 100);
  r.finish();
}

void read_monitor(table_reader r, monitor_config& monitor) {
  r.integer("interval_s", monitor.interval_s, 0, u32_max);
  r.boolean("check_at_start", monitor.check_at_start);
  r.boolean("auto_recover", monitor.auto_recover);
  r.finish();
}

void read_recovery(table_reader r, recovery_config& rec) {
  // The name is checked against the policy registry built in main(), which knows the names.
  r.text("policy", rec.policy, false, "a non-empty string (a policy name)", non_empty);
  r.integer("discovery_window_ms", rec.discovery_window_ms, 0, u32_max);
  r.integer("block_window", rec.block_window, 1, 1024);
  r.integer("verified_in_memory_mib", rec.verified_in_memory_mib, 0, 4096);
  r.integer("block_timeout_ms", rec.block_timeout_ms, 1, u32_max);
  r.integer("compress_below_kbps", rec.compress_below_kbps, 0, u32_max);
  r.integer("handshake_timeout_ms", rec.handshake_timeout_ms, 1, u32_max);
  r.integer("parallel_handshakes", rec.parallel_handshakes, 1, 16);
  r.integer("flash_retries", rec.flash_retries, 0, 100);
  r.integer("stall_timeout_s", rec.stall_timeout_s, 1, u32_max);
  r.integer("max_attempts", rec.max_attempts, 1, u32_max);
  auto* initial = r.integer("backoff_initial_ms", rec.backoff_initial_ms, 0, u32_max);
  auto* max = r.integer("backoff_max_ms", rec.backoff_max_ms, 0, u32_max);
  bool both_valid = (initial || !r.has("backoff_initial_ms")) && (max || !r.has("backoff_max_ms"));
  if (both_valid && rec.backoff_initial_ms > rec.backoff_max_ms) {
    if (initial)
      r.diag().bad_value(
        *initial, r.name("backoff_initial_ms"),
        fmt::format("an integer no larger than recovery.backoff_max_ms ({})", rec.backoff_max_ms));
    else if (max)
      r.diag().bad_value(*max, r.name("backoff_max_ms"),
                         fmt::format("an integer no smaller than recovery.backoff_initial_ms ({})",
                                     rec.backoff_initial_ms));
  }
  r.finish();
}

void read_scoring_weights(table_reader r, scoring_weights& w) {
  // Only the ratios between weights matter (every term lies in [0, 1]); 1000 to 1 is far past
  // any useful balance, and the bound keeps sums clear of overflow.
  constexpr double max_weight = 1000;
  r.number("role", w.role, 0, max_weight);
  r.number("svn", w.svn, 0, max_weight);
  r.number("load", w.load, 0, max_weight);
  r.number("link", w.link, 0, max_weight);
  r.number("history", w.history, 0, max_weight);
  r.finish();
}

void read_policy(table_reader r, policy_config& policy) {
  r.list("allowed_versions", policy.allowed_versions, false, "an array of version strings",
         "a version string of 1 to 64 printable ASCII characters", valid_version);
  auto* pin = r.text("pin_version", policy.pin_version, false,
                     "a version string of 1 to 64 printable ASCII characters, or \"\" for none",
                     valid_version_or_none);
  // A pin outside the list would refuse every offer: say so now rather than at recovery time.
  const auto& allowed = policy.allowed_versions;
  if (pin && !policy.pin_version.empty() && !allowed.empty()
      && std::find(allowed.begin(), allowed.end(), policy.pin_version) == allowed.end())
    r.diag().bad_value(*pin, r.name("pin_version"),
                       "\"\" or a version listed in policy.allowed_versions");
  r.boolean("allow_downgrade", policy.allow_downgrade);
  read_scoring_weights(r.child("scored"), policy.scored);
  r.finish();
}

void read_donor_images(table_reader& r, std::vector<donor_image_config>& images) {
  auto* n = r.find("images");
  if (!n)
    return;
  constexpr auto what = "an array of tables ([[donor.images]])";
  auto* arr = n->as_array();
  if (!arr || !arr->is_array_of_tables())
    return r.diag().wrong_type(*n, r.name("images"), what);
  for (size_t i = 0; i < arr->size(); ++i) {
    table_reader item = r.element("images", i, *arr->get(i)->as_table());
    donor_image_config image;
    item.path("image", image.image, true);
    item.path("manifest", image.manifest, true);
    item.finish();
    images.push_back(std::move(image));
  }
}

void read_donor(table_reader r, donor_config& donor) {
  r.boolean("enabled", donor.enabled);
  r.boolean("serve_installed", donor.serve_installed);
  read_donor_images(r, donor.images);
  // Zero would answer every request Busy; donor.enabled = false is the way to stop serving.
  r.integer("max_uploads", donor.max_uploads, 1, u32_max);
  r.integer("upload_rate_kbps", donor.upload_rate_kbps, 0, u32_max);
  r.finish();
}

void read_lan(table_reader r, lan_config& lan) {
  constexpr auto address = "an IPv4 address in dotted-quad form";
  r.boolean("enabled", lan.enabled);
  r.text("group", lan.group, false, address, valid_ipv4);
  r.integer("discovery_port", lan.discovery_port, 1, 65535);
  r.text("interface_address", lan.interface_address, false, address, valid_ipv4);
  r.integer("session_port", lan.session_port, 0, 65535);
  r.list("static_peers", lan.static_peers, false, "an array of \"IPv4:port\" strings",
         "\"IPv4:port\" with a port from 1 to 65535", valid_endpoint);
  r.integer("multicast_ttl", lan.multicast_ttl, 0, 255);
  r.finish();
}

void read_limits(table_reader r, limits_config& l) {
  r.integer("sessions", l.sessions, 1, 65536);
  r.integer("sessions_per_source", l.sessions_per_source, 1, 65536);
  r.integer("handshake_ms", l.handshake_ms, 1, u32_max);
  r.integer("idle_ms", l.idle_ms, 1, u32_max);
  // A session must hold at least one frame of the largest kind (2 MiB) and a little more.
  r.integer("queued_kib", l.queued_kib, 4096, 4 << 20);
  r.integer("inbound_kib", l.inbound_kib, 4096, 4 << 20);
  r.integer("requested_blocks", l.requested_blocks, 1024, u32_max);
  r.integer("min_rate_kbps", l.min_rate_kbps, 0, u32_max);
  r.integer("offers_remembered", l.offers_remembered, 1, 1 << 20);
  r.integer("offers_per_request", l.offers_per_request, 1, 1 << 20);
  r.integer("offers_per_source", l.offers_per_source, 1, 1 << 20);
  r.integer("answers_per_s", l.answers_per_s, 1, u32_max);
  r.integer("answers_per_source_per_s", l.answers_per_source_per_s, 1, u32_max);
  r.integer("sources_tracked", l.sources_tracked, 1, 1 << 20);
  r.integer("descriptor_reserve", l.descriptor_reserve, 16, 65536);
  r.finish();
}

void read_supervisor(table_reader r, supervisor_config& sup) {
  r.integer("max_restarts", sup.max_restarts, 0, u32_max);
  r.integer("restart_window_s", sup.restart_window_s, 1, u32_max);
  r.finish();
}

/// The directory relative paths are resolved against: the one holding `source`.
caf::expected<fs::path> base_directory(const std::string& source) {
  std::error_code ec;
  auto dir = fs::path{source}.parent_path();
  auto base = dir.empty() ? fs::current_path(ec) : fs::absolute(dir, ec);
  if (ec)
    return make_error(errc::io_failure,
                      fmt::format("{}: cannot resolve the directory relative paths are read "
                                  "against: {}",
                                  source, ec.message()));
  return base.lexically_normal();
}

} // namespace

std::string node_config::admin_socket() const {
  if (!admin.socket.empty())
    return admin.socket;
  return (fs::path{state_dir} / "admin.sock").string();
}

caf::expected<node_config> parse_config(std::string_view text, const std::string& source) {
  auto base = base_directory(source);
  if (!base)
    return base.error();
  // Every value the configuration holds is ASCII. The TOML parser (toml++ 3.3) reaches undefined
  // behaviour on some non-ASCII characters where it expects whitespace, so they are refused
  // before it sees them, comments included.
  for (size_t i = 0, line = 1; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n')
      ++line;
    if (c >= 0x80)
      return make_error(errc::invalid_argument,
                        fmt::format("{}:{}: byte {:#04x} is not ASCII; the configuration is "
                                    "read as ASCII only (comments included)",
                                    source, line, c));
  }
  toml::table root;
  try {
    root = toml::parse(text, std::string_view{source});
  } catch (const toml::parse_error& e) {
    return make_error(errc::invalid_argument,
                      fmt::format("{}:{}: TOML syntax error: {}", source, e.source().begin.line,
                                  printable(e.description())));
  }
  diagnostics diag{source};
  node_config cfg;
  cfg.source = source;
  table_reader top{diag, &root, "", *base};
  read_node(top.child("node"), cfg);
  read_platform(top.child("platform"), cfg.platform);
  read_trust(top.child("trust"), cfg);
  read_flash(top.child("flash"), cfg.flash);
  read_host_power(top.child("host_power"), cfg.host_power);
  read_boot(top.child("boot"), cfg.boot);
  read_monitor(top.child("monitor"), cfg.monitor);
  read_recovery(top.child("recovery"), cfg.recovery);
  read_policy(top.child("policy"), cfg.policy);
  read_donor(top.child("donor"), cfg.donor);
  read_lan(top.child("lan"), cfg.lan);
  auto admin = top.child("admin");
  admin.path("socket", cfg.admin.socket, false, true);
  admin.finish();
  read_supervisor(top.child("supervisor"), cfg.supervisor);
  read_limits(top.child("limits"), cfg.limits);
  top.finish();
  if (auto err = diag.first())
    return err;
  return cfg;
}

caf::expected<node_config> load_config(const std::string& path) {
  auto bytes = read_file(path, max_config_bytes, "configuration");
  // An oversized file is a bad argument to the daemon like any other bad config; only a file
  // that cannot be read at all is an io_failure.
  if (!bytes && has_code(bytes.error(), errc::malformed))
    return make_error(errc::invalid_argument, describe(bytes.error()));
  if (!bytes)
    return bytes.error();
  std::string_view text{reinterpret_cast<const char*>(bytes->data()), bytes->size()};
  return parse_config(text, path);
}

} // namespace fwrescue
