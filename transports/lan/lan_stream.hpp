#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fwrescue::lan {

/// Largest frame a LAN session carries. A length prefix above it closes the session: it
/// bounds what one peer can make this node buffer.
constexpr size_t max_frame = 2 * 1024 * 1024;

/// The framing of one TCP session on a non-blocking socket: each frame is a 4-byte
/// little-endian length and the payload. Output is queued and written as the socket takes
/// it; input is buffered until a whole frame is there.
class framed_stream {
public:
  /// Frames read above `limit` bytes (at most max_frame) close the session.
  explicit framed_stream(size_t limit = max_frame) : limit_(limit) {
  }

  /// Queues a frame of at most `max_frame` bytes.
  void queue(std::vector<uint8_t> frame);

  bool has_output() const {
    return !out_.empty();
  }

  /// Bytes queued and not yet written, length prefixes included.
  size_t queued_bytes() const {
    return queued_;
  }

  /// Writes as much queued output as the socket takes without blocking. Returns the reason
  /// to close the session (the errno text), or nothing.
  std::optional<std::string> flush(int fd);

  /// Reads what the socket has (up to a budget, so one busy peer cannot starve the others)
  /// and hands every whole frame to `deliver`, in order. Returns the reason to close the
  /// session ("closed by peer", the errno text, or the frame limit), or nothing.
  std::optional<std::string> read(int fd, const std::function<void(std::vector<uint8_t>)>& deliver);

private:
  struct out_frame {
    std::array<uint8_t, 4> header;
    std::vector<uint8_t> payload;
  };

  /// Delivers the whole frames at the front of the input buffer and keeps the rest.
  std::optional<std::string> split(const std::function<void(std::vector<uint8_t>)>& deliver);

  /// Drops `n` written bytes from the front of the output queue.
  void consume(size_t n);

  size_t limit_;
  std::deque<out_frame> out_;
  size_t queued_ = 0;
  /// Bytes of out_.front(), header included, already written.
  size_t out_sent_ = 0;
  std::vector<uint8_t> in_;
  /// Bytes of in_ holding data; the rest is room for the next read.
  size_t in_len_ = 0;
};

} // namespace fwrescue::lan
