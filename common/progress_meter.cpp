#include "common/progress_meter.hpp"

#include <algorithm>

namespace fwrescue {

namespace {

constexpr auto min_spacing = std::chrono::milliseconds(100);
/// Below this span two samples say nothing reliable about a rate.
constexpr auto min_span = std::chrono::milliseconds(500);

} // namespace

void progress_meter::reset() {
  *this = progress_meter{};
}

void progress_meter::report(uint64_t done, uint64_t total, uint64_t unit_bytes,
                            clock::time_point now, uint64_t total_bytes) {
  done_ = done;
  total_ = total;
  bytes_total_ = total_bytes != 0 ? total_bytes : total * unit_bytes;
  bytes_done_ = std::min(done * unit_bytes, bytes_total_);
  if (!samples_.empty() && now - samples_.back().at < min_spacing)
    samples_.back().bytes = bytes_done_;
  else
    samples_.push_back({now, bytes_done_});
  while (samples_.size() > 2 && now - samples_.front().at > window)
    samples_.pop_front();
}

progress_meter::reading progress_meter::read(clock::time_point now) const {
  reading r{done_, total_, bytes_done_, bytes_total_, std::nullopt, std::nullopt};
  if (samples_.empty())
    return r;
  // Measured to now, not to the last report: reports that stop make the rate fall.
  const auto& first = samples_.front();
  auto span = std::chrono::duration<double>(now - first.at).count();
  if (now - first.at < min_span || span <= 0)
    return r;
  auto moved = static_cast<double>(bytes_done_ - std::min(first.bytes, bytes_done_));
  r.rate_bytes_per_s = moved / span;
  if (*r.rate_bytes_per_s > 0)
    r.seconds_left = static_cast<double>(bytes_total_ - bytes_done_) / *r.rate_bytes_per_s;
  return r;
}

} // namespace fwrescue
