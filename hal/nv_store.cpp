#include "hal/nv_store.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"

namespace fwrescue {

namespace {

namespace fs = std::filesystem;

constexpr const char* installed_name = "installed.fwm";
constexpr const char* floor_name = "svn_floor";
constexpr const char* journal_name = "journal";
constexpr const char* journal_manifest_name = "journal.fwm";
constexpr const char* staging_name = "staging.img";
constexpr const char* host_before_name = "host_before";
constexpr const char* revocations_name = "revocations.fwr";

/// Bounds for the small text files: far above what we write, far below what would hurt.
constexpr uint64_t max_floor_bytes = 64;
constexpr uint64_t max_journal_bytes = 4096;

constexpr mode_t file_mode = 0644;

/// Every file this store writes with write_file_atomic, whose temporaries a crash may leave.
constexpr std::array<const char*, 6> atomic_names{installed_name,   floor_name,
                                                  journal_name,     journal_manifest_name,
                                                  host_before_name, revocations_name};

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string_view as_text(const std::vector<uint8_t>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

caf::error malformed(const std::string& path, const std::string& what) {
  return make_error(errc::malformed, fmt::format("nv_store {}: {}", path, what));
}

/// `err` with "nv_store <path>: " in front of its description, keeping a project error's code.
caf::error in_file(const caf::error& err, const std::string& path) {
  auto code = errc::malformed;
  if (err.category() == error_category)
    code = static_cast<errc>(err.code());
  return make_error(code, fmt::format("nv_store {}: {}", path, describe(err)));
}

/// The content of `path`, or nothing when it does not exist.
caf::expected<std::optional<std::vector<uint8_t>>> read_optional(const std::string& path,
                                                                 uint64_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT)
    return std::optional<std::vector<uint8_t>>{};
  // Sized from the file so a manifest read does not allocate the format's maximum up front.
  auto size = file_size(path, "nv_store");
  if (!size)
    return std::move(size.error());
  if (*size > max_bytes)
    return malformed(path, fmt::format("larger than the limit of {} bytes", max_bytes));
  auto bytes = read_file(path, *size, "nv_store");
  if (!bytes)
    return std::move(bytes.error());
  return std::optional<std::vector<uint8_t>>{std::move(*bytes)};
}

caf::expected<std::optional<signed_manifest>> read_manifest(const std::string& path) {
  auto bytes = read_optional(path, manifest_limits::max_file_bytes);
  if (!bytes)
    return std::move(bytes.error());
  if (!*bytes)
    return std::optional<signed_manifest>{};
  auto m = decode_manifest_file(**bytes);
  if (!m)
    return in_file(m.error(), path);
  return std::optional<signed_manifest>{std::move(*m)};
}

caf::error write_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  return write_file_atomic(path, bytes, file_mode, on_existing::replace, "nv_store");
}

/// Removes `path`; a missing file is fine.
caf::error remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return make_error(errc::io_failure,
                      fmt::format("nv_store {}: cannot remove: {}", path, std::strerror(errno)));
  return caf::none;
}

/// Makes renames and removals in `dir` durable.
caf::error sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return make_error(errc::io_failure,
                      fmt::format("nv_store {}: cannot open: {}", dir, std::strerror(errno)));
  auto rc = ::fsync(fd);
  auto err = errno;
  ::close(fd);
  if (rc != 0)
    return make_error(errc::io_failure,
                      fmt::format("nv_store {}: cannot flush: {}", dir, std::strerror(err)));
  return caf::none;
}

std::optional<recovery_journal::phase> parse_phase(std::string_view word) {
  using phase = recovery_journal::phase;
  for (auto p : {phase::transferring, phase::staged, phase::flashing})
    if (word == to_string(p))
      return p;
  return std::nullopt;
}

/// Parses the journal's text into `j`, all fields but the target manifest. A `power_before`
/// line, which journals of earlier versions carried, is read into `legacy_power` (the host
/// record has replaced it; see host_before()).
caf::error parse_journal(std::string_view text, const std::string& path, recovery_journal& j,
                         std::optional<power_state>& legacy_power) {
  bool seen_phase = false;
  bool seen_donor = false;
  bool seen_power = false;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.empty())
      continue;
    auto space = line.find(' ');
    auto key = line.substr(0, space);
    auto value = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    auto where = fmt::format("line {}", line_no);
    auto once = [&](bool& seen) -> caf::error {
      if (seen)
        return malformed(path, fmt::format("{}: '{}' given twice", where, key));
      seen = true;
      return caf::none;
    };
    if (key == "phase") {
      if (auto err = once(seen_phase))
        return err;
      auto p = parse_phase(value);
      if (!p)
        return malformed(path, fmt::format("{}: unknown phase '{}'", where, value));
      j.at = *p;
    } else if (key == "donor") {
      if (auto err = once(seen_donor))
        return err;
      j.donor = std::string{value};
    } else if (key == "power_before") {
      if (auto err = once(seen_power))
        return err;
      auto s = parse_power_state(value);
      if (!s)
        return malformed(path, fmt::format("{}: unknown power state '{}'", where, value));
      legacy_power = *s;
    } else {
      return malformed(path, fmt::format("{}: unknown key '{}'", where, key));
    }
  }
  for (auto [seen, key] : {std::pair{seen_phase, "phase"}, std::pair{seen_donor, "donor"}})
    if (!seen)
      return malformed(path, fmt::format("no '{}' line", key));
  return caf::none;
}

} // namespace

const char* to_string(recovery_journal::phase p) {
  switch (p) {
    case recovery_journal::phase::transferring:
      return "transferring";
    case recovery_journal::phase::staged:
      return "staged";
    case recovery_journal::phase::flashing:
      return "flashing";
  }
  return "unknown";
}

nv_store::nv_store(std::string dir) : dir_(std::move(dir)) {
}

caf::error nv_store::open() {
  if (dir_.empty())
    return make_error(errc::invalid_argument, "nv_store: no directory given");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec && !fs::is_directory(dir_))
    return make_error(errc::io_failure, fmt::format("nv_store {}: cannot create the directory: {}",
                                                    dir_, ec.message()));
  if (!fs::is_directory(dir_))
    return make_error(errc::io_failure, fmt::format("nv_store {}: not a directory", dir_));
  // Probing with a real file catches what access(W_OK) misses: read-only mounts, ACLs, and
  // a root daemon on a filesystem that refuses new files.
  auto probe = (fs::path{dir_} / ".nv_store-probe.XXXXXX").string();
  int fd = ::mkstemp(probe.data());
  if (fd < 0)
    return make_error(errc::io_failure, fmt::format("nv_store {}: directory is not writable: {}",
                                                    dir_, std::strerror(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
  // A crash in the middle of an atomic write leaves its temporary file behind; nothing will
  // ever rename it, so remove it rather than let them pile up on a small BMC filesystem.
  for (const auto& entry : fs::directory_iterator{dir_, ec}) {
    auto name = entry.path().filename().string();
    for (auto target : atomic_names)
      if (name.starts_with(fmt::format(".{}.tmp.", target)))
        fs::remove(entry.path(), ec);
  }
  return caf::none;
}

caf::expected<std::optional<signed_manifest>> nv_store::installed_manifest() const {
  return read_manifest((fs::path{dir_} / installed_name).string());
}

caf::error nv_store::set_installed_manifest(const signed_manifest& m) {
  return write_atomic((fs::path{dir_} / installed_name).string(), encode_manifest_file(m));
}

caf::expected<uint32_t> nv_store::svn_floor() const {
  auto path = (fs::path{dir_} / floor_name).string();
  auto bytes = read_optional(path, max_floor_bytes);
  if (!bytes)
    return std::move(bytes.error());
  if (!*bytes)
    return 0u;
  auto text = as_text(**bytes);
  if (text.ends_with('\n'))
    text.remove_suffix(1);
  uint32_t floor = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), floor);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    return malformed(
      path, fmt::format("expected a decimal number up to {}, found '{}'", UINT32_MAX, text));
  return floor;
}

caf::error nv_store::raise_svn_floor(uint32_t svn) {
  // A floor we cannot read is not replaced: that could lower it.
  auto current = svn_floor();
  if (!current)
    return std::move(current.error());
  if (svn <= *current)
    return caf::none;
  return write_atomic((fs::path{dir_} / floor_name).string(), as_bytes(fmt::format("{}\n", svn)));
}

caf::expected<std::optional<recovery_journal>> nv_store::journal() const {
  auto path = (fs::path{dir_} / journal_name).string();
  auto bytes = read_optional(path, max_journal_bytes);
  if (!bytes)
    return std::move(bytes.error());
  if (!*bytes)
    return std::optional<recovery_journal>{};
  recovery_journal j;
  std::optional<power_state> legacy_power;
  if (auto err = parse_journal(as_text(**bytes), path, j, legacy_power))
    return err;
  auto manifest_path = (fs::path{dir_} / journal_manifest_name).string();
  auto target = read_manifest(manifest_path);
  if (!target)
    return std::move(target.error());
  if (!*target)
    return malformed(manifest_path, fmt::format("missing, but {} refers to it", path));
  j.target = std::move(**target);
  return std::optional<recovery_journal>{std::move(j)};
}

caf::error nv_store::write_journal(const recovery_journal& j) {
  auto path = (fs::path{dir_} / journal_name).string();
  if (j.donor.find_first_of("\r\n") != std::string::npos)
    return make_error(
      errc::invalid_argument,
      fmt::format("nv_store {}: donor id '{}' contains a line break", path, j.donor));
  // A journal of an earlier version may hold the host's state to restore; it moves to the host
  // record before the line is dropped.
  if (auto legacy = host_before(); legacy && *legacy)
    if (auto err = remember_host_before(**legacy))
      return err;
  auto manifest_path = (fs::path{dir_} / journal_manifest_name).string();
  auto encoded = encode_manifest_file(j.target);
  // Phases advance with the same target, so its manifest is usually on disk already. When the
  // target changes, the old journal goes first: a crash between the two writes must not leave
  // a journal paired with a manifest it was not written with.
  auto existing = read_optional(manifest_path, manifest_limits::max_file_bytes);
  bool same_target = existing && *existing && **existing == encoded;
  if (!same_target) {
    if (auto err = remove_file(path))
      return err;
    if (auto err = write_atomic(manifest_path, encoded))
      return err;
  }
  auto text = fmt::format("phase {}\ndonor {}\n", to_string(j.at), j.donor);
  return write_atomic(path, as_bytes(text));
}

caf::error nv_store::clear_journal() {
  // The journal before its manifest, the reverse of writing, so a journal is never without one.
  if (auto err = remove_file((fs::path{dir_} / journal_name).string()))
    return err;
  if (auto err = remove_file((fs::path{dir_} / journal_manifest_name).string()))
    return err;
  // Without a journal the staged blocks are never used again (a transfer reuses them only when
  // resuming the journal's image).
  if (auto err = remove_file(staging_path()))
    return err;
  return sync_dir(dir_);
}

std::string nv_store::staging_path() const {
  return (fs::path{dir_} / staging_name).string();
}

caf::expected<std::optional<power_state>> nv_store::host_before() const {
  auto path = (fs::path{dir_} / host_before_name).string();
  auto bytes = read_optional(path, max_floor_bytes);
  if (!bytes)
    return std::move(bytes.error());
  if (!*bytes) {
    // A journal of an earlier version kept the state in its `power_before` line, written when
    // flashing began; only then had the host been touched.
    auto jpath = (fs::path{dir_} / journal_name).string();
    auto jbytes = read_optional(jpath, max_journal_bytes);
    if (!jbytes || !*jbytes)
      return std::optional<power_state>{};
    recovery_journal j;
    std::optional<power_state> legacy;
    if (parse_journal(as_text(**jbytes), jpath, j, legacy)
        || j.at != recovery_journal::phase::flashing)
      return std::optional<power_state>{};
    return legacy;
  }
  auto text = as_text(**bytes);
  if (text.ends_with('\n'))
    text.remove_suffix(1);
  auto s = parse_power_state(text);
  if (!s)
    return malformed(path,
                     fmt::format("expected \"off\", \"on\" or \"reset_held\", found '{}'", text));
  return std::optional<power_state>{*s};
}

caf::error nv_store::remember_host_before(power_state s) {
  // Never replaced: by the time a later attempt asks, the host is off because of an earlier one.
  auto path = (fs::path{dir_} / host_before_name).string();
  auto recorded = read_optional(path, max_floor_bytes);
  if (!recorded)
    return std::move(recorded.error());
  if (*recorded)
    return caf::none;
  return write_atomic((fs::path{dir_} / host_before_name).string(),
                      as_bytes(fmt::format("{}\n", to_string(s))));
}

caf::error nv_store::forget_host_before() {
  if (auto err = remove_file((fs::path{dir_} / host_before_name).string()))
    return err;
  return sync_dir(dir_);
}

caf::expected<std::optional<signed_revocations>> nv_store::revocations() const {
  auto path = (fs::path{dir_} / revocations_name).string();
  auto bytes = read_optional(path, revocation_limits::max_file_bytes + 8);
  if (!bytes)
    return std::move(bytes.error());
  if (!*bytes)
    return std::optional<signed_revocations>{};
  auto r = decode_revocations_file(**bytes);
  if (!r)
    return in_file(r.error(), path);
  return std::optional<signed_revocations>{std::move(*r)};
}

caf::error nv_store::set_revocations(const signed_revocations& r) {
  return write_atomic((fs::path{dir_} / revocations_name).string(), encode_revocations_file(r));
}

} // namespace fwrescue
