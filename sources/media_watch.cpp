#include "sources/media_watch.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

namespace fs = std::filesystem;

namespace {

/// The watched directories and the media directories under them; more are not watched (their
/// contents are still found by the periodic scan a recovery's retries make).
constexpr size_t max_watches = 64;

constexpr uint32_t dir_events = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM
                                | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

} // namespace

caf::expected<std::unique_ptr<media_watch>> media_watch::open(std::vector<std::string> dirs) {
  unique_fd in{::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)};
  if (in.get() < 0)
    return make_error(errc::io_failure,
                      fmt::format("inotify: {}", std::strerror(errno)));
  // Reading the mount table resets its change mark; poll() then reports the next change.
  unique_fd mounts{::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)};
  std::unique_ptr<media_watch> w{new media_watch(std::move(dirs), std::move(in), std::move(mounts))};
  w->mounts_changed();
  w->add_missing();
  return w;
}

media_watch::media_watch(std::vector<std::string> dirs, unique_fd inotify, unique_fd mounts)
  : dirs_(std::move(dirs)), inotify_(std::move(inotify)), mounts_(std::move(mounts)) {
}

bool media_watch::add_missing() {
  bool added = false;
  auto watched = [&](const std::string& d) {
    return std::any_of(watches_.begin(), watches_.end(), [&](auto& w) { return w.second == d; });
  };
  auto add = [&](const std::string& d) {
    if (watches_.size() >= max_watches || watched(d))
      return;
    int wd = ::inotify_add_watch(inotify_.get(), d.c_str(), dir_events | IN_DONT_FOLLOW);
    if (wd < 0)
      return;
    watches_[wd] = d;
    added = true;
  };
  for (const auto& root : dirs_) {
    std::error_code ec;
    if (fs::symlink_status(root, ec).type() != fs::file_type::directory)
      continue;
    add(root);
    for (fs::directory_iterator it{root, ec}, end; !ec && it != end; it.increment(ec))
      if (it->symlink_status(ec).type() == fs::file_type::directory)
        add(it->path().string());
  }
  return added;
}

bool media_watch::drain_inotify() {
  bool any = false;
  alignas(inotify_event) std::array<char, 4096> buf;
  for (;;) {
    auto n = ::read(inotify_.get(), buf.data(), buf.size());
    if (n <= 0)
      break;
    any = true;
    for (ssize_t at = 0; at < n;) {
      auto* ev = reinterpret_cast<const inotify_event*>(buf.data() + at);
      // A watched directory that went away (a medium's directory removed) frees its slot.
      if (ev->mask & IN_IGNORED)
        watches_.erase(ev->wd);
      at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  return any;
}

bool media_watch::mounts_changed() {
  if (mounts_.get() < 0)
    return false;
  pollfd p{mounts_.get(), POLLPRI, 0};
  if (::poll(&p, 1, 0) <= 0 || (p.revents & (POLLPRI | POLLERR)) == 0)
    return false;
  // Read it through to re-arm the mark.
  std::array<char, 4096> buf;
  ::lseek(mounts_.get(), 0, SEEK_SET);
  while (::read(mounts_.get(), buf.data(), buf.size()) > 0) {
  }
  return true;
}

bool media_watch::changed() {
  bool any = drain_inotify();
  any = mounts_changed() || any;
  // New media directories (and watched directories created late) get watches of their own.
  any = add_missing() || any;
  return any;
}

} // namespace fwrescue
