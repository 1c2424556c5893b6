#include "transports/icmb/icmb_session.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace fwrescue::icmb {

uint64_t widen_seq(uint16_t seq16, uint64_t reference) {
  auto diff = static_cast<int16_t>(static_cast<uint16_t>(seq16 - static_cast<uint16_t>(reference)));
  auto wide = static_cast<int64_t>(reference) + diff;
  return wide < 0 ? 0 : static_cast<uint64_t>(wide);
}

size_t payload_for_loss(double loss, size_t size, size_t overhead) {
  if (loss <= 0)
    return SIZE_MAX;
  loss = std::min(loss, 0.99);
  auto p = -std::log1p(-loss) / (8.0 * static_cast<double>(size + overhead));
  return static_cast<size_t>(std::sqrt(static_cast<double>(overhead) / (8.0 * p)));
}

size_t send_window::payload_size() const {
  // Below a few percent the gain is too small to be worth the noise in the estimate.
  if (loss_ < 0.05)
    return max_payload_;
  auto n = payload_for_loss(loss_, max_payload_, overhead_);
  return std::clamp<size_t>(n, std::min<size_t>(64, max_payload_), max_payload_);
}

void send_window::count(bool lost) {
  loss_ = loss_ * (15.0 / 16.0) + (lost ? 1.0 / 16.0 : 0.0);
}

void send_window::queue(std::vector<uint8_t> frame) {
  auto n = frame.size();
  std::vector<uint8_t> prefix(frame_prefix);
  for (size_t i = 0; i < frame_prefix; ++i)
    prefix[i] = static_cast<uint8_t>(n >> (8 * i));
  unsent_ += frame_prefix + n;
  queue_.push_back(std::move(prefix));
  if (n > 0)
    queue_.push_back(std::move(frame));
}

send_window::entry* send_window::find(uint64_t seq) {
  if (seq < base_ || seq >= base_ + unacked_.size())
    return nullptr;
  return &unacked_[seq - base_];
}

bool send_window::has_work() const {
  for (const auto& e : unacked_)
    if (e.st == state::pending)
      return true;
  return unsent_ > 0 && next_ - base_ < send_window_frames;
}

std::optional<send_window::pick> send_window::next() {
  for (size_t i = 0; i < unacked_.size(); ++i) {
    auto& e = unacked_[i];
    if (e.st != state::pending)
      continue;
    e.st = state::sending;
    ++retransmissions_;
    return pick{base_ + i, &e.payload, true, true, 0};
  }
  if (unsent_ == 0 || next_ - base_ >= send_window_frames)
    return std::nullopt;
  entry e;
  auto limit = payload_size();
  e.payload.reserve(std::min(limit, unsent_));
  while (e.payload.size() < limit && !queue_.empty()) {
    auto& front = queue_.front();
    auto n = std::min(limit - e.payload.size(), front.size() - front_taken_);
    e.payload.insert(e.payload.end(), front.begin() + static_cast<std::ptrdiff_t>(front_taken_),
                     front.begin() + static_cast<std::ptrdiff_t>(front_taken_ + n));
    front_taken_ += n;
    if (front_taken_ == front.size()) {
      queue_.pop_front();
      front_taken_ = 0;
    }
  }
  auto fresh = e.payload.size();
  unsent_ -= fresh;
  e.st = state::sending;
  unacked_.push_back(std::move(e));
  auto seq = next_++;
  bool ask = unsent_ == 0 || next_ - base_ >= send_window_frames;
  return pick{seq, &unacked_.back().payload, false, ask, fresh};
}

void send_window::transmitted(uint64_t seq, uint64_t end, clock::time_point now) {
  if (auto* e = find(seq); e && e->st == state::sending) {
    e->st = state::in_flight;
    e->end = end;
    e->sent = now;
    e->sent_before = true;
  }
}

void send_window::aborted(uint64_t seq) {
  if (auto* e = find(seq); e && e->st == state::sending)
    e->st = state::pending;
}

bool send_window::on_ack(uint16_t cum16, uint32_t sack, bool has_sack, uint64_t ack_start) {
  auto cum = widen_seq(cum16, base_);
  if (cum < base_ || cum > next_)
    return false; // Not about payloads we have sent (stale, or another incarnation).
  bool progress = cum > base_;
  while (base_ < cum) {
    if (unacked_.front().st != state::sacked)
      count(false);
    unacked_.pop_front();
    ++base_;
  }
  for (size_t i = 0; i < unacked_.size(); ++i) {
    auto& e = unacked_[i];
    bool held = has_sack && i >= 1 && i <= 32 && (sack >> (i - 1) & 1) != 0;
    if (held) {
      if (e.st != state::sacked) {
        progress = true;
        count(false);
      }
      e.st = state::sacked;
      continue;
    }
    // Only the first missing payload is known lost from a cumulative ack alone.
    if (e.st == state::in_flight && e.end <= ack_start && (has_sack || i == 0)) {
      e.st = state::pending;
      count(true);
    }
  }
  if (progress)
    backoff_ = 0;
  return progress;
}

std::optional<clock::time_point> send_window::deadline(clock::duration rto) const {
  std::optional<clock::time_point> at;
  for (const auto& e : unacked_)
    if (e.st == state::in_flight && (!at || e.sent + rto < *at))
      at = e.sent + rto;
  return at;
}

bool send_window::expire(clock::time_point now, clock::duration rto) {
  bool any = false;
  for (auto& e : unacked_)
    if (e.st == state::in_flight && e.sent + rto <= now) {
      e.st = state::pending;
      any = true;
    }
  if (any)
    backoff_ = std::min(backoff_ + 1, 4u);
  return any;
}

receive_window::result
receive_window::on_data(uint16_t seq16, std::vector<uint8_t> payload,
                        const std::function<void(std::vector<uint8_t>)>& deliver,
                        std::optional<std::string>& error) {
  auto seq = widen_seq(seq16, expected_);
  if (seq < expected_)
    return result::duplicate;
  if (seq >= expected_ + send_window_frames)
    return result::out_of_window;
  if (seq > expected_) {
    auto [it, fresh] = held_.emplace(seq, std::move(payload));
    return fresh ? result::fresh : result::duplicate;
  }
  error = take(std::move(payload), deliver);
  ++expected_;
  while (!error && !held_.empty() && held_.begin()->first == expected_) {
    auto next = std::move(held_.begin()->second);
    held_.erase(held_.begin());
    error = take(std::move(next), deliver);
    ++expected_;
  }
  return result::fresh;
}

uint32_t receive_window::sack() const {
  uint32_t bits = 0;
  for (const auto& [seq, payload] : held_)
    if (seq > expected_ && seq - expected_ - 1 < 32)
      bits |= uint32_t{1} << (seq - expected_ - 1);
  return bits;
}

size_t receive_window::buffered() const {
  return frame_.size() + prefix_len_;
}

std::optional<std::string>
receive_window::take(std::vector<uint8_t> payload,
                     const std::function<void(std::vector<uint8_t>)>& deliver) {
  size_t pos = 0;
  while (pos < payload.size() || (frame_len_ && *frame_len_ == 0)) {
    if (!frame_len_) {
      while (prefix_len_ < frame_prefix && pos < payload.size())
        prefix_[prefix_len_++] = payload[pos++];
      if (prefix_len_ < frame_prefix)
        break;
      size_t len = prefix_[0] | prefix_[1] << 8 | prefix_[2] << 16 | size_t{prefix_[3]} << 24;
      prefix_len_ = 0;
      if (len > limit_)
        return fmt::format("frame of {} bytes exceeds the {}-byte limit", len, limit_);
      frame_len_ = len;
      frame_.clear();
      frame_.reserve(len);
    }
    auto n = std::min(*frame_len_ - frame_.size(), payload.size() - pos);
    frame_.insert(frame_.end(), payload.begin() + static_cast<std::ptrdiff_t>(pos),
                  payload.begin() + static_cast<std::ptrdiff_t>(pos + n));
    pos += n;
    if (frame_.size() == *frame_len_) {
      frame_len_.reset();
      deliver(std::move(frame_));
      frame_ = {};
    }
  }
  return std::nullopt;
}

} // namespace fwrescue::icmb
