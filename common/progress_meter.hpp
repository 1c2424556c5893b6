#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace fwrescue {

/// Turns a job's progress reports (so many units of a total done, each unit so many bytes) into
/// what an operator watches: bytes done, the rate over the last seconds and the time left.
///
/// The rate is measured over a sliding window of reports rather than since the job started:
/// a transfer's first report counts every block already on the flash at once, and a link's
/// speed changes when a donor is dropped; the last seconds say what the next ones will be like.
/// A job whose reports stop shows a falling rate, not the last good one.
class progress_meter {
public:
  using clock = std::chrono::steady_clock;

  /// How far back the rate looks.
  static constexpr auto window = std::chrono::seconds(10);

  struct reading {
    uint64_t done = 0;
    uint64_t total = 0;
    uint64_t bytes_done = 0;
    uint64_t bytes_total = 0;
    /// Bytes per second over the window; none until two reports span some time.
    std::optional<double> rate_bytes_per_s;
    /// Seconds left at that rate; none without a rate or once the job stands still.
    std::optional<double> seconds_left;
  };

  /// Forgets everything: a new job (or phase) starts.
  void reset();

  /// One report: `done` of `total` units, each `unit_bytes` long (0: unknown, bytes stay 0).
  /// `total_bytes` caps the byte count where the last unit is short (0: done × unit_bytes).
  void report(uint64_t done, uint64_t total, uint64_t unit_bytes, clock::time_point now,
              uint64_t total_bytes = 0);

  reading read(clock::time_point now) const;

  bool empty() const {
    return samples_.empty();
  }

private:
  struct sample {
    clock::time_point at;
    uint64_t bytes;
  };
  uint64_t done_ = 0;
  uint64_t total_ = 0;
  uint64_t bytes_done_ = 0;
  uint64_t bytes_total_ = 0;
  /// At most one per 100 ms and none older than the window (but the newest two are kept), so
  /// the deque stays small however often reports come.
  std::deque<sample> samples_;
};

} // namespace fwrescue
