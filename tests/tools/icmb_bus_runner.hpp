#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace fwrescue::test {

/// One run of fwrescue-icmb-bus, its stdout and stderr captured. Ended by PID (SIGKILL) when
/// the test leaves without stopping it.
class icmb_bus_process {
public:
  explicit icmb_bus_process(const std::vector<std::string>& args);
  icmb_bus_process(const icmb_bus_process&) = delete;
  icmb_bus_process& operator=(const icmb_bus_process&) = delete;
  ~icmb_bus_process();

  /// Reads the first line of stdout; true when it is `ready`.
  bool wait_ready();
  /// Sends SIGTERM and returns the exit code (-1 when killed by a signal).
  int stop();
  /// Waits for the program to exit by itself; returns its exit code.
  int wait_exit();
  /// What the program wrote after `ready` and on stderr, once it has exited.
  const std::string& out() const {
    return out_;
  }
  const std::string& err() const {
    return err_;
  }

private:
  int reap();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
};

/// A node's end of the bus: the pty slave behind a link path.
class bus_node {
public:
  explicit bus_node(const std::string& link_path);
  bus_node(const bus_node&) = delete;
  bus_node& operator=(const bus_node&) = delete;
  ~bus_node();

  /// Writes all of `bytes`, waiting while the pty is full.
  void send(const std::vector<uint8_t>& bytes);
  /// Reads until `n` bytes came (or a minute passed, so a broken bus fails rather than hangs).
  std::vector<uint8_t> receive(size_t n);
  /// Discards what arrived while nobody was reading.
  void discard_input();
  void close();
  void reopen();

private:
  std::string path_;
  int fd_ = -1;
};

/// The counters in a stats line: bytes, collisions, bit_flips, dropped. Empty if malformed.
std::vector<uint64_t> parse_stats(const std::string& line);

/// The first line of `path`, or empty.
std::string read_line(const std::string& path);

} // namespace fwrescue::test
