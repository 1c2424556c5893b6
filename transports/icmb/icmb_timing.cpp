#include "transports/icmb/icmb_timing.hpp"

#include <algorithm>

#include "transports/icmb/icmb_frame.hpp"

namespace fwrescue::icmb {

timing make_timing(uint32_t baud, size_t max_payload) {
  using namespace std::chrono;
  using ns = nanoseconds;
  timing t;
  t.byte_time = ns{10'000'000'000LL / std::max<uint32_t>(baud, 1)};
  auto bytes = [&](int64_t n) { return t.byte_time * n; };
  t.ack_gap = std::max<ns>(microseconds{1500}, bytes(4));
  // The margin between the gaps covers the time for an ack's first byte to be seen by the
  // node that would send data: a tick of the UART's (or emulator's) reading, plus scheduling.
  t.data_gap = t.ack_gap + std::max<ns>(microseconds{2500}, bytes(3));
  t.defer = t.data_gap - t.ack_gap;
  t.jitter = std::max<ns>(microseconds{1000}, bytes(2));
  t.quiet = (t.data_gap + t.jitter) * 2 + milliseconds{2};
  t.backoff_slot = std::max<ns>(milliseconds{2}, bytes(8));
  t.echo_timeout = std::max<ns>(milliseconds{100}, bytes(64));
  auto data_frame = bytes(static_cast<int64_t>(max_payload + frame_overhead));
  auto ack_frame = bytes(static_cast<int64_t>(frame_overhead + 4));
  // Room for the frame, the ack the receiver holds back for up to a few more frames, both
  // gaps, and one data frame of the peer's own that may take the bus first.
  t.rto = data_frame * 4 + ack_frame * 2 + (t.data_gap + t.jitter) * 6 + milliseconds{50};
  t.open_retry = data_frame * 2 + ack_frame * 2 + (t.data_gap + t.jitter) * 4 + milliseconds{100};
  t.write_ahead = static_cast<size_t>(std::max<int64_t>(32, milliseconds{20} / t.byte_time));
  return t;
}

} // namespace fwrescue::icmb
