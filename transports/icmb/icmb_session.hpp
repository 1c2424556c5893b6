#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

// The reliable, ordered byte stream of one ICMB session, without any I/O: the sending half
// cuts length-prefixed frames into numbered bus payloads and keeps them until acknowledged;
// the receiving half puts payloads back in order and cuts the stream into frames.
//
// Acknowledgements are cumulative plus a 32-bit selective bitmap (the ack frame's payload).
// The bus is one medium and keeps order, so when an ack that started on the bus after one of
// our payloads finished does not hold it, that payload was lost: it is sent again at once,
// with no timer. A timer (from the baud and frame size) covers lost acks and a lost last
// payload.

namespace fwrescue::icmb {

using clock = std::chrono::steady_clock;

/// Payloads in flight per session, and the span of the selective ack bitmap.
constexpr uint64_t send_window_frames = 32;
/// Bytes of the length prefix of each session frame inside the stream.
constexpr size_t frame_prefix = 4;

/// The sending half of a session.
class send_window {
public:
  /// Payloads are at most `max_payload` bytes; `overhead` is what each costs besides (header,
  /// CRC and the idle gap, in byte times), for sizing payloads on a lossy bus.
  explicit send_window(size_t max_payload, size_t overhead = 64)
    : max_payload_(max_payload), overhead_(overhead) {
  }

  /// Bytes the next new payload takes at most: max_payload on a clean bus, less where payloads
  /// are lost often (see payload_for_loss()).
  size_t payload_size() const;

  /// The share of payloads lost lately (a moving average).
  double loss() const {
    return loss_;
  }

  /// Queues one session frame (its length prefix is added here).
  void queue(std::vector<uint8_t> frame);

  /// Bytes queued and not yet put in a payload, length prefixes included.
  size_t unsent_bytes() const {
    return unsent_;
  }

  /// Nothing queued and nothing unacknowledged.
  bool idle() const {
    return unsent_ == 0 && unacked_.empty();
  }

  /// A payload to transmit next: a lost one first, else new bytes while the window has room.
  struct pick {
    uint64_t seq = 0;
    const std::vector<uint8_t>* payload = nullptr;
    bool retransmit = false;
    /// Ask for an ack now: nothing more to send, the window is full, or a retransmission.
    bool ack_request = false;
    /// Bytes of the queue this payload took for the first time.
    size_t fresh_bytes = 0;
  };
  std::optional<pick> next();
  bool has_work() const;

  /// The payload's last byte came back from the bus at stream offset `end`.
  void transmitted(uint64_t seq, uint64_t end, clock::time_point now);
  /// The transmission collided: the payload goes out again.
  void aborted(uint64_t seq);

  /// An ack frame that started at stream offset `ack_start`: `cum` is the next seq the peer
  /// expects, `sack` bit i stands for cum+1+i. Returns whether anything new was acknowledged.
  bool on_ack(uint16_t cum, uint32_t sack, bool has_sack, uint64_t ack_start);

  /// When the oldest payload in flight times out (nothing when none is in flight).
  std::optional<clock::time_point> deadline(clock::duration rto) const;
  /// Sends again what timed out; true when something did.
  bool expire(clock::time_point now, clock::duration rto);

  /// The seq the next new payload gets (for a close).
  uint64_t next_seq() const {
    return next_;
  }

  uint64_t retransmissions() const {
    return retransmissions_;
  }
  /// Timeouts in a row without progress (the caller backs the timer off with it).
  unsigned backoff() const {
    return backoff_;
  }

private:
  enum class state : uint8_t { pending, sending, in_flight, sacked };
  struct entry {
    std::vector<uint8_t> payload;
    state st = state::pending;
    uint64_t end = 0;
    clock::time_point sent{};
    bool sent_before = false;
  };
  entry* find(uint64_t seq);

  /// Moves the loss average one payload's worth towards lost (1) or delivered (0).
  void count(bool lost);

  size_t max_payload_;
  size_t overhead_;
  double loss_ = 0;
  std::deque<std::vector<uint8_t>> queue_;
  /// Bytes of queue_.front() already put in payloads.
  size_t front_taken_ = 0;
  size_t unsent_ = 0;
  /// Payloads from base_ on, not yet acknowledged cumulatively.
  std::deque<entry> unacked_;
  uint64_t base_ = 0;
  uint64_t next_ = 0;
  uint64_t retransmissions_ = 0;
  unsigned backoff_ = 0;
};

/// The receiving half of a session.
class receive_window {
public:
  /// Frames above `frame_limit` bytes close the session.
  explicit receive_window(size_t frame_limit) : limit_(frame_limit) {
  }

  enum class result : uint8_t { fresh, duplicate, out_of_window };

  /// Takes payload `seq16` (the low bits of its seq); every frame it completes goes to
  /// `deliver`, in order. `error` gets the reason to close when a frame is over the limit.
  result on_data(uint16_t seq16, std::vector<uint8_t> payload,
                 const std::function<void(std::vector<uint8_t>)>& deliver,
                 std::optional<std::string>& error);

  /// Next seq expected, and which later ones are held.
  uint16_t cumulative() const {
    return static_cast<uint16_t>(expected_);
  }
  uint32_t sack() const;
  uint64_t expected() const {
    return expected_;
  }
  /// Whether a frame has started but not finished (bytes are held for it).
  size_t buffered() const;

private:
  std::optional<std::string> take(std::vector<uint8_t> payload,
                                  const std::function<void(std::vector<uint8_t>)>& deliver);

  size_t limit_;
  uint64_t expected_ = 0;
  std::map<uint64_t, std::vector<uint8_t>> held_;
  uint8_t prefix_[frame_prefix] = {};
  size_t prefix_len_ = 0;
  std::optional<size_t> frame_len_;
  std::vector<uint8_t> frame_;
};

/// The payload size that carries most per byte time when payloads of `size` bytes are lost
/// at rate `loss` and each costs `overhead` bytes besides: from the bit-error rate p that the
/// loss implies, p = -ln(1 - loss) / (8 (size + overhead)), the payload n maximising
/// n / (n + overhead) × (1 - p)^(8 (n + overhead)) is about sqrt(overhead / (8 p)).
size_t payload_for_loss(double loss, size_t size, size_t overhead);

/// Widens the low 16 bits of a seq to the value nearest `reference`.
uint64_t widen_seq(uint16_t seq16, uint64_t reference);

} // namespace fwrescue::icmb
