#include "common/file_io.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace fwrescue {

namespace {

caf::error io_error(const std::string& what, const std::string& path, const char* action, int err) {
  return make_error(errc::io_failure,
                    fmt::format("{} {}: {}: {}", what, path, action, std::strerror(err)));
}

caf::expected<unique_fd> open_regular(const std::string& path, const std::string& what) {
  unique_fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.get() < 0)
    return io_error(what, path, "cannot open", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return io_error(what, path, "cannot stat", errno);
  if (S_ISDIR(st.st_mode))
    return make_error(errc::io_failure, fmt::format("{} {}: is a directory", what, path));
  return fd;
}

/// read() that retries on EINTR and short reads; returns bytes read (0 at end of file) or -1.
ssize_t read_fully(int fd, uint8_t* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    auto n = ::read(fd, buf + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

} // namespace

positional_io pread_all(int fd, uint64_t offset, std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    auto n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return {n < 0 ? errno : positional_io::end_of_file, offset + done};
    done += static_cast<size_t>(n);
  }
  return {0, offset + done};
}

positional_io pwrite_all(int fd, uint64_t offset, std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    auto n =
      ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return {n < 0 ? errno : EIO, offset + done};
    done += static_cast<size_t>(n);
  }
  return {0, offset + done};
}

std::string describe(const positional_io& io) {
  return io.error == positional_io::end_of_file ? "unexpected end of file"
                                                : std::strerror(io.error);
}

caf::expected<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_bytes,
                                              const std::string& what) {
  auto fd = open_regular(path, what);
  if (!fd)
    return std::move(fd.error());
  // Read up to one byte past the limit so an oversized file is detected without trusting
  // st_size. The buffer starts at the file's size and grows while the reads fill it: sizing it
  // by the limit would zero-fill that much (a manifest's limit is tens of MiB) for a file of a
  // few KiB, and every console paid it in resident memory at start.
  auto cap = static_cast<size_t>(max_bytes) + 1;
  struct stat st {};
  auto hint = ::fstat(fd->get(), &st) == 0 && st.st_size > 0 ? static_cast<size_t>(st.st_size) : 0;
  std::vector<uint8_t> out(std::min(cap, std::max<size_t>(hint + 1, 4096)));
  size_t have = 0;
  for (;;) {
    auto n = read_fully(fd->get(), out.data() + have, out.size() - have);
    if (n < 0)
      return io_error(what, path, "cannot read", errno);
    have += static_cast<size_t>(n);
    if (have < out.size() || out.size() == cap)
      break; // the end of the file, or one byte past the limit
    out.resize(std::min(cap, out.size() * 2));
  }
  if (have > max_bytes)
    return make_error(errc::malformed, fmt::format("{} {}: larger than the limit of {} bytes", what,
                                                   path, max_bytes));
  out.resize(have);
  return out;
}

caf::expected<uint64_t> stream_file(const std::string& path, size_t chunk_size,
                                    const std::function<void(std::span<const uint8_t>)>& consume,
                                    const std::string& what) {
  auto fd = open_regular(path, what);
  if (!fd)
    return std::move(fd.error());
  ::posix_fadvise(fd->get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<uint8_t> buf(chunk_size);
  uint64_t total = 0;
  for (;;) {
    auto n = read_fully(fd->get(), buf.data(), buf.size());
    if (n < 0)
      return io_error(what, path, "cannot read", errno);
    if (n == 0)
      break;
    consume({buf.data(), static_cast<size_t>(n)});
    total += static_cast<uint64_t>(n);
    if (static_cast<size_t>(n) < buf.size())
      break;
  }
  return total;
}

caf::error write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, mode_t mode,
                             on_existing existing, const std::string& what) {
  namespace fs = std::filesystem;
  auto target = fs::path{path};
  auto dir = target.has_parent_path() ? target.parent_path() : fs::path{"."};
  auto tmp_name = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  unique_fd fd{::mkstemp(tmp_name.data())};
  if (fd.get() < 0)
    return io_error(what, path, "cannot create a temporary file beside it", errno);
  auto fail = [&](const char* action) {
    auto err = errno;
    ::unlink(tmp_name.c_str());
    return io_error(what, path, action, err);
  };
  if (::fchmod(fd.get(), mode) != 0)
    return fail("cannot set permissions");
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0)
    return fail("cannot flush");
  if (existing == on_existing::refuse) {
    // link() fails with EEXIST instead of replacing, which makes the check and the write one step.
    if (::link(tmp_name.c_str(), path.c_str()) != 0) {
      auto err = errno;
      ::unlink(tmp_name.c_str());
      if (err == EEXIST)
        return make_error(errc::already_exists, fmt::format("{} {}: already exists", what, path));
      return io_error(what, path, "cannot create", err);
    }
    ::unlink(tmp_name.c_str());
  } else if (::rename(tmp_name.c_str(), path.c_str()) != 0) {
    return fail("cannot replace");
  }
  unique_fd dir_fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir_fd.get() >= 0)
    ::fsync(dir_fd.get());
  return caf::none;
}

} // namespace fwrescue

namespace fwrescue {

caf::expected<uint64_t> file_size(const std::string& path, const std::string& what) {
  auto fd = open_regular(path, what);
  if (!fd)
    return std::move(fd.error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0)
    return io_error(what, path, "cannot stat", errno);
  return static_cast<uint64_t>(st.st_size);
}

} // namespace fwrescue
