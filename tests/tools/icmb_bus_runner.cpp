#include "tests/tools/icmb_bus_runner.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace fwrescue::test {

namespace {

// Only a guard against hanging on a broken program; no test passes or fails by it.
constexpr auto give_up_after = std::chrono::seconds(60);

std::string drain(int fd) {
  std::string text;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n > 0)
      text.append(buf, static_cast<size_t>(n));
    else if (n < 0 && errno == EINTR)
      continue;
    else
      return text;
  }
}

} // namespace

icmb_bus_process::icmb_bus_process(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  std::vector<char*> argv;
  std::string program = ICMB_BUS_PROGRAM;
  argv.push_back(program.data());
  auto copy = args;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
}

icmb_bus_process::~icmb_bus_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ::close(out_fd_);
  ::close(err_fd_);
}

bool icmb_bus_process::wait_ready() {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + give_up_after;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    char c;
    if (::read(out_fd_, &c, 1) != 1)
      return false;
    if (c == '\n')
      return line == "ready";
    line += c;
  }
  return false;
}

int icmb_bus_process::reap() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  out_ += drain(out_fd_);
  err_ = drain(err_fd_);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int icmb_bus_process::stop() {
  ::kill(pid_, SIGTERM);
  return reap();
}

int icmb_bus_process::wait_exit() {
  return reap();
}

bus_node::bus_node(const std::string& link_path) : path_(link_path) {
  reopen();
}

bus_node::~bus_node() {
  close();
}

void bus_node::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

void bus_node::reopen() {
  close();
  fd_ = ::open(path_.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0)
    throw std::runtime_error("cannot open " + path_);
}

void bus_node::discard_input() {
  ::tcflush(fd_, TCIFLUSH);
}

void bus_node::send(const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  auto deadline = std::chrono::steady_clock::now() + give_up_after;
  while (done < bytes.size() && std::chrono::steady_clock::now() < deadline) {
    auto n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, 100);
  }
  if (done < bytes.size())
    throw std::runtime_error("the bus took no more bytes from " + path_);
}

std::vector<uint8_t> bus_node::receive(size_t n) {
  std::vector<uint8_t> got;
  uint8_t buf[4096];
  auto deadline = std::chrono::steady_clock::now() + give_up_after;
  while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto r = ::read(fd_, buf, std::min(sizeof buf, n - got.size()));
    if (r > 0) {
      got.insert(got.end(), buf, buf + r);
      continue;
    }
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, 100);
  }
  return got;
}

std::vector<uint64_t> parse_stats(const std::string& line) {
  // "bytes N collisions N bit_flips N dropped N", with an optional newline. Read word by word:
  // g++ 12 warns inside std::regex when building with the sanitizers.
  std::istringstream in(line.size() > 0 && line.back() == '\n' ? line.substr(0, line.size() - 1)
                                                               : line);
  std::vector<uint64_t> out;
  for (const char* name : {"bytes", "collisions", "bit_flips", "dropped"}) {
    std::string word, number;
    if (!(in >> word >> number) || word != name || number.empty()
        || !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return {};
    out.push_back(std::stoull(number));
  }
  std::string rest;
  if (in >> rest)
    return {};
  // Exactly one space between the fields, as the program writes them.
  if (line.find("  ") != std::string::npos || line.front() == ' ')
    return {};
  return out;
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

} // namespace fwrescue::test
