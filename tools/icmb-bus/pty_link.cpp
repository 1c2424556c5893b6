#include "tools/icmb-bus/pty_link.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

namespace icmb_bus {

namespace {

std::string sys_error(const std::string& what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

// A symlink at `path` is ours to replace; anything else there belongs to someone else.
outcome<bool> place_symlink(const std::string& target, const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISLNK(st.st_mode))
    return outcome<bool>::fail(
      fmt::format("--link {}: exists and is not a symlink; refusing to replace it", path));
  // Made beside it and renamed over it, so a node never sees the path missing or half made.
  auto temp = fmt::format("{}.icmb-bus-{}", path, ::getpid());
  ::unlink(temp.c_str());
  if (::symlink(target.c_str(), temp.c_str()) != 0)
    return outcome<bool>::fail(sys_error(fmt::format("--link {}: cannot make a symlink", path)));
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    auto err = sys_error(fmt::format("--link {}: cannot place the symlink", path));
    ::unlink(temp.c_str());
    return outcome<bool>::fail(err);
  }
  return outcome<bool>::ok(true);
}

} // namespace

outcome<pty_link> pty_link::open(const std::string& link_path) {
  using result = outcome<pty_link>;
  pty_link link;
  link.link_path_ = link_path;
  link.master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (link.master_ < 0)
    return result::fail(sys_error(fmt::format("--link {}: cannot open a pty", link_path)));
  char name[128];
  if (::grantpt(link.master_) != 0 || ::unlockpt(link.master_) != 0
      || ::ptsname_r(link.master_, name, sizeof name) != 0)
    return result::fail(sys_error(fmt::format("--link {}: cannot unlock the pty", link_path)));
  link.slave_name_ = name;
  link.slave_ = ::open(name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (link.slave_ < 0)
    return result::fail(sys_error(fmt::format("--link {}: cannot open {}", link_path, name)));
  // Raw: no echo, no line editing, no CR/LF translation; every byte passes as it is.
  termios tio{};
  if (::tcgetattr(link.slave_, &tio) != 0)
    return result::fail(sys_error(fmt::format("--link {}: cannot read {}'s mode", link_path, name)));
  ::cfmakeraw(&tio);
  if (::tcsetattr(link.slave_, TCSANOW, &tio) != 0)
    return result::fail(sys_error(fmt::format("--link {}: cannot make {} raw", link_path, name)));
  auto placed = place_symlink(link.slave_name_, link_path);
  if (!placed)
    return result::fail(placed.error);
  link.linked_ = true;
  return result::ok(std::move(link));
}

pty_link::pty_link(pty_link&& other) noexcept
  : master_(other.master_),
    slave_(other.slave_),
    slave_name_(std::move(other.slave_name_)),
    link_path_(std::move(other.link_path_)),
    linked_(other.linked_) {
  other.master_ = -1;
  other.slave_ = -1;
  other.linked_ = false;
}

pty_link::~pty_link() {
  if (linked_) {
    // Someone may have pointed the path elsewhere since; only our own symlink is removed.
    char target[256];
    auto n = ::readlink(link_path_.c_str(), target, sizeof target - 1);
    if (n >= 0 && std::string(target, static_cast<size_t>(n)) == slave_name_)
      ::unlink(link_path_.c_str());
  }
  // Don't retry close() on EINTR: the descriptor is gone either way on Linux.
  if (slave_ >= 0)
    ::close(slave_);
  if (master_ >= 0)
    ::close(master_);
}

} // namespace icmb_bus
