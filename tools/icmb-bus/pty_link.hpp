#pragma once

#include <string>

#include "tools/icmb-bus/outcome.hpp"

namespace icmb_bus {

/// One node's attachment: a pseudo-terminal in raw mode whose slave a symlink names. The bus
/// reads and writes the master; the node opens the symlink. The slave stays open here too, so
/// a node closing its end never makes the master report a hang-up.
class pty_link {
public:
  /// Makes the pty and the symlink at `link_path`, replacing a symlink already there (left by
  /// an earlier run) and refusing to replace anything else.
  static outcome<pty_link> open(const std::string& link_path);

  pty_link(pty_link&& other) noexcept;
  pty_link& operator=(pty_link&&) = delete;
  pty_link(const pty_link&) = delete;
  pty_link& operator=(const pty_link&) = delete;
  /// Closes the pty and removes the symlink if it still points at this pty.
  ~pty_link();

  /// The master side, non-blocking.
  int master() const {
    return master_;
  }
  /// The slave device's path, e.g. /dev/pts/7.
  const std::string& slave_name() const {
    return slave_name_;
  }
  const std::string& link_path() const {
    return link_path_;
  }

private:
  pty_link() = default;

  int master_ = -1;
  int slave_ = -1;
  std::string slave_name_;
  std::string link_path_;
  bool linked_ = false;
};

} // namespace icmb_bus
