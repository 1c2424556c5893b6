#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace fwrescue::icmb {

/// The bus's times, all derived from the baud and the payload size.
struct timing {
  /// One byte on the wire: start bit, 8 data bits, stop bit.
  std::chrono::nanoseconds byte_time{};
  /// Idle time before an acknowledgement (or another control frame) may start.
  std::chrono::nanoseconds ack_gap{};
  /// Idle time before a data frame may start: longer than ack_gap, so that a receiver's acks
  /// always win the bus over its donor's next block.
  std::chrono::nanoseconds data_gap{};
  /// Added to data_gap when the last frame on the bus was our own.
  std::chrono::nanoseconds defer{};
  /// Upper end of the random wait added to data_gap, so that two nodes waiting for the same
  /// idle bus seldom start together.
  std::chrono::nanoseconds jitter{};
  /// Idle time after which a receiver takes it that the sender has nothing more for now and
  /// acknowledges what it has unasked: well past the longest data gap, so it does not race a
  /// sender about to go on.
  std::chrono::nanoseconds quiet{};
  /// Unit of the randomized backoff after a collision (doubling with each collision in a row).
  std::chrono::nanoseconds backoff_slot{};
  /// Bytes written must come back from the bus within this, or the bus is taken as jammed.
  std::chrono::nanoseconds echo_timeout{};
  /// A payload not acknowledged within this is sent again (doubled per timeout in a row).
  std::chrono::nanoseconds rto{};
  /// How long an open waits for its answer, and how many times it is sent.
  std::chrono::nanoseconds open_retry{};
  int open_tries = 4;
  /// Bytes written ahead of their echo: enough to keep the wire busy across a reading tick and
  /// a late wakeup, few enough that little still reaches the bus after a collision is seen.
  size_t write_ahead = 32;
};

/// The times for `baud` with payloads of up to `max_payload` bytes. The gaps have a floor of
/// about a millisecond because a host reads a UART (or a pseudo-terminal) in bursts, not byte
/// by byte: a shorter silence is not evidence of an idle bus.
timing make_timing(uint32_t baud, size_t max_payload);

} // namespace fwrescue::icmb
