#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "common/unique_fd.hpp"

namespace fwrescue {

/// Tells when removable media may have come or gone under watched directories, without
/// blocking: inotify on each watched directory and on each directory directly under it (a
/// medium's directory created, moved in or removed; a file written or moved onto a medium), and
/// the kernel's mount table (a file system mounted or unmounted over a directory, which inotify
/// does not report). A watched directory that does not exist yet is looked for again at every
/// call, and its appearance counts as a change.
class media_watch {
public:
  static caf::expected<std::unique_ptr<media_watch>> open(std::vector<std::string> dirs);

  /// Whether anything changed since the last call.
  bool changed();

private:
  media_watch(std::vector<std::string> dirs, unique_fd inotify, unique_fd mounts);
  /// Adds watches for the directories that exist now and lack one; true if any was added.
  bool add_missing();
  bool drain_inotify();
  bool mounts_changed();

  std::vector<std::string> dirs_;
  unique_fd inotify_;
  unique_fd mounts_;
  /// Watch descriptor -> the directory it watches; bounded by max_watches.
  std::map<int, std::string> watches_;
};

} // namespace fwrescue
