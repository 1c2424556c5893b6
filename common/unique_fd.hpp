#pragma once

#include <unistd.h>

namespace fwrescue {

/// Owns a file descriptor and closes it when destroyed.
class unique_fd {
public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {
  }
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {
  }
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      unique_fd old{fd_};
      fd_ = other.release();
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() {
    // Don't retry close() on EINTR: on Linux the descriptor is released either way.
    if (fd_ >= 0)
      ::close(fd_);
  }

  int get() const {
    return fd_;
  }
  int release() {
    auto fd = fd_;
    fd_ = -1;
    return fd;
  }

private:
  int fd_ = -1;
};

} // namespace fwrescue
