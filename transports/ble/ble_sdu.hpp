#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

// How the BLE transport carries its messages over an L2CAP LE credit-based channel, whose SDUs
// are at most the channel's MTU (23..65535 bytes). Pure: no sockets, no clocks.
//
// A channel's first SDU is one byte, its kind (channel_kind). After it, each message (a frame
// of a session, or a datagram) is a 4-byte little-endian length and the bytes, cut into SDUs of
// at most the MTU: the first SDU holds the length and as much of the message as fits, the next
// ones the rest. An SDU never holds parts of two messages, so a reader that sees an SDU start a
// message knows where it starts; an empty message is its length alone.
namespace fwrescue::ble {

/// Smallest MTU an L2CAP LE credit-based channel may have (Core spec, Vol 3, Part A, 4.22).
constexpr size_t min_mtu = 23;

/// Bytes of the length that starts each message.
constexpr size_t message_header = 4;

/// The first SDU of a channel says what the channel carries.
enum class channel_kind : uint8_t {
  /// Frames of one session, both ways.
  session = 0x53,
  /// Datagrams between two nodes, both ways.
  datagrams = 0x44,
};

/// The kind a channel's first SDU names, or nothing when it names none.
std::optional<channel_kind> parse_kind(std::span<const uint8_t> sdu);

/// Messages waiting to be sent on one channel, cut into SDUs as the channel takes them. Holds
/// what push() was given and nothing more.
class sdu_segmenter {
public:
  /// Queues one message (its length must fit in 32 bits; the transport bounds it far below).
  void push(std::vector<uint8_t> message);

  bool empty() const {
    return messages_.empty();
  }

  /// Message bytes queued and not yet taken by advance(), headers not counted.
  size_t queued_bytes() const {
    return queued_;
  }

  /// Writes the next SDU, at most `mtu` (>= min_mtu) bytes, into `out`; empty() must be false.
  /// The same SDU comes again until advance() takes it.
  void next(size_t mtu, std::vector<uint8_t>& out) const;

  /// Takes the SDU next() wrote with the same `mtu`; returns the message bytes it carried and
  /// whether it finished a message.
  std::pair<size_t, bool> advance(size_t mtu);

private:
  std::deque<std::vector<uint8_t>> messages_;
  /// Bytes of messages_.front() already sent; the header is sent with the first SDU.
  size_t sent_ = 0;
  bool header_sent_ = false;
  size_t queued_ = 0;
};

/// Puts messages back together from a channel's SDUs. Memory is bounded by the limit: a
/// message whose length is above it is refused at its first SDU, and the buffer grows only
/// with bytes that arrived.
class sdu_reassembler {
public:
  /// Messages above `limit` bytes are refused.
  explicit sdu_reassembler(size_t limit) : limit_(limit) {
  }

  struct result {
    /// A whole message, when this SDU finished one.
    std::optional<std::vector<uint8_t>> message;
    /// Why the channel must close: the peer broke the format or the limit.
    std::optional<std::string> error;
  };

  /// Takes the next SDU of the channel (the kind SDU is not fed here).
  result feed(std::span<const uint8_t> sdu);

  /// Whether a message is partly here.
  bool in_message() const {
    return expected_.has_value();
  }

  /// Bytes of the message being reassembled that arrived so far.
  size_t buffered() const {
    return buffer_.size();
  }

private:
  size_t limit_;
  std::optional<size_t> expected_;
  std::vector<uint8_t> buffer_;
};

/// Every SDU of `messages` at `mtu`, in order: the plain definition the classes above follow,
/// for tests and the fuzzer.
std::vector<std::vector<uint8_t>> segment_all(const std::vector<std::vector<uint8_t>>& messages,
                                              size_t mtu);

} // namespace fwrescue::ble
