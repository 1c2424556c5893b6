// Fuzzes the LAN session's frame reader, fwrescue::lan::framed_stream::read()
// (transports/lan/lan_stream.hpp), through its public API on a real socket pair: the bytes a
// peer sends on a TCP session reach it exactly this way.
//
// Input: two bytes (little-endian) choosing how many bytes each write carries, 1 to 65536 (at
// least 1/64 of the stream), so frames and length prefixes are split across reads in every
// way; one byte choosing the stream's frame limit: 0 for lan::max_frame, else that many bytes,
// so frames at and just above a limit fit in a short input; then the byte stream itself.
// The frames delivered must be exactly those a plain reading of the stream finds, in order. A
// length prefix above the limit must close the session as soon as it has arrived, after the
// frames before it; otherwise the session stays open until the peer closes it.

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "transports/lan/lan_stream.hpp"

namespace fwrescue::fuzz {
namespace {

constexpr size_t max_writes = 64;

struct expected_stream {
  std::vector<std::vector<uint8_t>> frames;
  /// A length prefix above the limit arrived.
  bool over_limit = false;
};

/// The stream read the plain way: 4-byte little-endian length, payload, repeat.
expected_stream split_plainly(const uint8_t* data, size_t size, size_t limit) {
  expected_stream out;
  size_t pos = 0;
  while (size - pos >= 4) {
    size_t len = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16 | size_t{data[pos + 3]} << 24;
    if (len > limit) {
      out.over_limit = true;
      break;
    }
    if (size - pos - 4 < len)
      break;
    out.frames.emplace_back(data + pos + 4, data + pos + 4 + len);
    pos += 4 + len;
  }
  return out;
}

class socket_pair {
public:
  socket_pair() {
    check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds_) == 0,
          "socketpair");
  }
  socket_pair(const socket_pair&) = delete;
  socket_pair& operator=(const socket_pair&) = delete;
  ~socket_pair() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  int reader() const {
    return fds_[0];
  }
  int writer() const {
    return fds_[1];
  }

private:
  int fds_[2];
};

} // namespace
} // namespace fwrescue::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fwrescue;
  using fuzz::check;
  if (size < 3)
    return 0;
  size_t chunk = 1 + (data[0] | size_t{data[1]} << 8);
  size_t limit = data[2] == 0 ? lan::max_frame : data[2];
  data += 3;
  size -= 3;
  // At most max_writes writes per input: byte-by-byte writes of a long stream cost thousands of
  // system calls and find nothing that a short stream split the same way does not.
  chunk = std::max(chunk, size / fuzz::max_writes);
  auto expected = fuzz::split_plainly(data, size, limit);

  fuzz::socket_pair sockets;
  lan::framed_stream stream{limit};
  std::vector<std::vector<uint8_t>> delivered;
  auto deliver = [&](std::vector<uint8_t> frame) { delivered.push_back(std::move(frame)); };
  std::optional<std::string> reason;
  size_t sent = 0;
  while (sent < size && !reason) {
    auto n = ::send(sockets.writer(), data + sent, std::min(chunk, size - sent), MSG_NOSIGNAL);
    check(n > 0 || errno == EAGAIN, "send to the socket pair");
    if (n > 0)
      sent += static_cast<size_t>(n);
    reason = stream.read(sockets.reader(), deliver);
  }
  check(reason.has_value() == expected.over_limit,
        "the session closes before the peer does exactly when a frame is over the limit");
  if (!reason) {
    ::shutdown(sockets.writer(), SHUT_WR);
    // The whole stream is in the socket already, so a few reads reach its end.
    for (int i = 0; i < 64 && !reason; ++i)
      reason = stream.read(sockets.reader(), deliver);
    check(reason.has_value(), "the session closes when the peer does");
  }
  check(delivered == expected.frames, "frames delivered are the stream's frames, in order");
  return 0;
}
