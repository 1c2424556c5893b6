#include "sources/dir_location.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace fwrescue {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view manifest_suffix = ".fwm";

/// Directories looked into per root (media under a watched directory).
constexpr size_t max_dirs_per_root = 16;

/// Bytes read per call, and between checks that the image is still there.
constexpr size_t chunk_bytes = 1 << 20;

caf::error io_error(const std::string& what, int err) {
  return make_error(errc::io_failure, fmt::format("{}: {}", what, std::strerror(err)));
}

/// Opens `path` for reading only if it is a regular file itself (not a link to one): what a
/// medium's author put there must not make us open a device or block on a pipe.
caf::expected<unique_fd> open_regular(const std::string& path, struct stat& st) {
  unique_fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)};
  if (fd.get() < 0 && errno == ELOOP)
    return make_error(errc::invalid_argument, path + ": a symbolic link, not followed");
  if (fd.get() < 0)
    return io_error(path, errno);
  if (::fstat(fd.get(), &st) != 0)
    return io_error(path, errno);
  if (!S_ISREG(st.st_mode))
    return make_error(errc::invalid_argument, path + ": not a regular file");
  return fd;
}

caf::expected<std::vector<uint8_t>> read_bounded(const std::string& path, uint64_t max_bytes,
                                                 uint64_t& counted) {
  struct stat st {};
  auto fd = open_regular(path, st);
  if (!fd)
    return std::move(fd.error());
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return make_error(errc::malformed, fmt::format("{}: {} bytes, more than a manifest can be ({})",
                                                   path, st.st_size, max_bytes));
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    auto n = ::pread(fd->get(), bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return io_error(path, errno);
    if (n == 0)
      break;
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  counted += got;
  return bytes;
}

/// Entries of `dir` that are of `type` (and not symbolic links), sorted by name, at most `max`.
std::vector<fs::path> entries(const fs::path& dir, fs::file_type type, size_t max) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec)) {
    auto status = it->symlink_status(ec);
    if (ec || status.type() != type)
      continue;
    out.push_back(it->path());
    // Reading a directory costs a syscall per entry; a medium with millions is cut short.
    if (out.size() >= 4 * max)
      break;
  }
  std::sort(out.begin(), out.end());
  if (out.size() > max)
    out.resize(max);
  return out;
}

} // namespace

dir_location::dir_location(std::string name, std::vector<std::string> roots, int depth)
  : name_(std::move(name)), roots_(std::move(roots)), depth_(depth) {
}

caf::expected<std::vector<located_image>> dir_location::list(std::vector<std::string>& skipped) {
  std::vector<fs::path> dirs;
  std::vector<std::string> absent;
  for (const auto& root : roots_) {
    std::error_code ec;
    if (fs::symlink_status(root, ec).type() != fs::file_type::directory) {
      absent.push_back(root);
      continue;
    }
    dirs.emplace_back(root);
    if (depth_ >= 1)
      for (auto& d : entries(root, fs::file_type::directory, max_dirs_per_root))
        dirs.push_back(std::move(d));
  }
  if (dirs.empty())
    return make_error(errc::io_failure,
                      depth_ >= 1 ? fmt::format("no medium: {} not present", fmt::join(absent, ", "))
                                  : fmt::format("{}: no such directory", fmt::join(absent, ", ")));
  std::vector<located_image> out;
  bool capped = false;
  for (const auto& dir : dirs) {
    for (const auto& path : entries(dir, fs::file_type::regular, location_limits::max_images)) {
      auto file = path.string();
      if (!file.ends_with(manifest_suffix) || file.size() == manifest_suffix.size())
        continue;
      if (out.size() >= location_limits::max_images) {
        capped = true;
        break;
      }
      auto bytes = read_bounded(file, manifest_limits::max_file_bytes + manifest_file_magic.size(),
                                bytes_read_);
      auto m = bytes ? decode_manifest_file(*bytes) : caf::expected<signed_manifest>{bytes.error()};
      if (!m) {
        skipped.push_back(fmt::format("{}: {}", file, describe(m.error())));
        continue;
      }
      out.push_back({file.substr(0, file.size() - manifest_suffix.size()), std::move(*m)});
    }
  }
  if (capped)
    skipped.push_back(fmt::format("more than {} manifests: the rest were not looked at",
                                  location_limits::max_images));
  return out;
}

caf::error dir_location::read(const located_image& image, std::span<const byte_run> runs,
                              const run_sink& sink) {
  struct stat opened {};
  auto fd = open_regular(image.where, opened);
  if (!fd)
    return std::move(fd.error());
  auto size = image.manifest.fields.image_size;
  if (static_cast<uint64_t>(opened.st_size) != size)
    return make_error(errc::size_mismatch, fmt::format("{} is {} bytes; its manifest says {}",
                                                   image.where, opened.st_size, size));
  // A medium pulled out or replaced shows as the path gone or naming another file: the bytes
  // still readable through our descriptor belong to a medium that is no longer there.
  auto still_there = [&]() -> caf::error {
    struct stat now {};
    if (::lstat(image.where.c_str(), &now) != 0 || now.st_ino != opened.st_ino
        || now.st_dev != opened.st_dev)
      return make_error(errc::io_failure,
                        fmt::format("{} disappeared while it was read (medium removed?)",
                                    image.where));
    return {};
  };
  std::vector<uint8_t> buf;
  for (const auto& run : runs) {
    if (run.offset > size || run.length > size - run.offset)
      return make_error(errc::invalid_argument,
                        fmt::format("{}: bytes {}+{} lie outside the image", image.where,
                                    run.offset, run.length));
    for (uint64_t done = 0; done < run.length;) {
      if (auto err = still_there())
        return err;
      auto want = static_cast<size_t>(std::min<uint64_t>(chunk_bytes, run.length - done));
      buf.resize(want);
      auto at = run.offset + done;
      auto n = ::pread(fd->get(), buf.data(), want, static_cast<off_t>(at));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return io_error(image.where, errno);
      if (n == 0)
        return make_error(errc::io_failure,
                          fmt::format("{} ended at byte {} while it was read", image.where, at));
      bytes_read_ += static_cast<uint64_t>(n);
      if (auto err = sink(at, std::span{buf}.first(static_cast<size_t>(n))))
        return err;
      done += static_cast<uint64_t>(n);
    }
  }
  return still_there();
}

} // namespace fwrescue
