#include "transports/lan/lan_stream.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>

#include <fmt/format.h>

#include "transports/lan/lan_socket.hpp"

namespace fwrescue::lan {

namespace {

/// Frames gathered into one sendmsg(); many small frames then cost one system call.
constexpr size_t frames_per_write = 64;

/// Free room kept after the buffered input for the next read.
constexpr size_t read_chunk = 64 * 1024;

/// Bytes read from one session per poll() round before the others get their turn.
constexpr size_t read_budget = 1024 * 1024;

/// An input buffer grown for a large frame is given back once it is empty again.
constexpr size_t idle_buffer = 256 * 1024;

} // namespace

void framed_stream::queue(std::vector<uint8_t> frame) {
  auto n = static_cast<uint32_t>(frame.size());
  out_frame f{{static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
               static_cast<uint8_t>(n >> 24)},
              std::move(frame)};
  queued_ += f.header.size() + f.payload.size();
  out_.push_back(std::move(f));
}

std::optional<std::string> framed_stream::flush(int fd) {
  while (!out_.empty()) {
    iovec iov[2 * frames_per_write];
    size_t count = 0;
    size_t total = 0;
    size_t skip = out_sent_;
    for (auto i = out_.begin(); i != out_.end() && count + 2 <= std::size(iov); ++i, skip = 0) {
      if (skip < i->header.size()) {
        iov[count++] = {i->header.data() + skip, i->header.size() - skip};
        total += i->header.size() - skip;
      }
      auto payload_skip = skip > i->header.size() ? skip - i->header.size() : 0;
      if (i->payload.size() > payload_skip) {
        iov[count++] = {i->payload.data() + payload_skip, i->payload.size() - payload_skip};
        total += i->payload.size() - payload_skip;
      }
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    // MSG_NOSIGNAL: a peer that went away must close the session, not kill the daemon.
    auto n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return std::nullopt;
    if (n < 0)
      return errno_text(errno);
    consume(static_cast<size_t>(n));
    if (static_cast<size_t>(n) < total)
      return std::nullopt; // The socket's buffer is full; poll() says when it has room.
  }
  return std::nullopt;
}

void framed_stream::consume(size_t n) {
  queued_ -= n;
  while (n > 0) {
    auto left = out_.front().header.size() + out_.front().payload.size() - out_sent_;
    if (n < left) {
      out_sent_ += n;
      return;
    }
    n -= left;
    out_.pop_front();
    out_sent_ = 0;
  }
}

std::optional<std::string>
framed_stream::read(int fd, const std::function<void(std::vector<uint8_t>)>& deliver) {
  size_t budget = read_budget;
  while (budget > 0) {
    if (in_.size() - in_len_ < read_chunk)
      in_.resize(in_len_ + read_chunk);
    auto n = ::recv(fd, in_.data() + in_len_, in_.size() - in_len_, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return std::nullopt;
    if (n < 0)
      return errno_text(errno);
    if (n == 0)
      return std::string{"closed by peer"};
    in_len_ += static_cast<size_t>(n);
    budget -= std::min(budget, static_cast<size_t>(n));
    if (auto reason = split(deliver))
      return reason;
  }
  return std::nullopt;
}

std::optional<std::string>
framed_stream::split(const std::function<void(std::vector<uint8_t>)>& deliver) {
  size_t pos = 0;
  std::optional<std::string> reason;
  while (in_len_ - pos >= 4) {
    auto* p = in_.data() + pos;
    auto len = static_cast<size_t>(p[0]) | static_cast<size_t>(p[1]) << 8
               | static_cast<size_t>(p[2]) << 16 | static_cast<size_t>(p[3]) << 24;
    if (len > limit_) {
      reason = fmt::format("frame of {} bytes exceeds the {}-byte limit", len, limit_);
      break;
    }
    if (in_len_ - pos - 4 < len)
      break;
    deliver(std::vector<uint8_t>(p + 4, p + 4 + len));
    pos += 4 + len;
  }
  if (pos > 0) {
    std::memmove(in_.data(), in_.data() + pos, in_len_ - pos);
    in_len_ -= pos;
  }
  if (in_len_ == 0 && in_.size() > idle_buffer) {
    in_.clear();
    in_.shrink_to_fit();
  }
  return reason;
}

} // namespace fwrescue::lan
