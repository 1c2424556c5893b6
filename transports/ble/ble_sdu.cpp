#include "transports/ble/ble_sdu.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace fwrescue::ble {

std::optional<channel_kind> parse_kind(std::span<const uint8_t> sdu) {
  if (sdu.size() != 1)
    return std::nullopt;
  switch (static_cast<channel_kind>(sdu[0])) {
    case channel_kind::session:
      return channel_kind::session;
    case channel_kind::datagrams:
      return channel_kind::datagrams;
  }
  return std::nullopt;
}

void sdu_segmenter::push(std::vector<uint8_t> message) {
  queued_ += message.size();
  messages_.push_back(std::move(message));
}

void sdu_segmenter::next(size_t mtu, std::vector<uint8_t>& out) const {
  const auto& m = messages_.front();
  out.clear();
  size_t room = mtu;
  if (!header_sent_) {
    auto n = static_cast<uint32_t>(m.size());
    for (int i = 0; i < 4; ++i)
      out.push_back(static_cast<uint8_t>(n >> (8 * i)));
    room -= message_header;
  }
  auto take = std::min(room, m.size() - sent_);
  out.insert(out.end(), m.begin() + static_cast<ptrdiff_t>(sent_),
             m.begin() + static_cast<ptrdiff_t>(sent_ + take));
}

std::pair<size_t, bool> sdu_segmenter::advance(size_t mtu) {
  const auto& m = messages_.front();
  size_t room = header_sent_ ? mtu : mtu - message_header;
  header_sent_ = true;
  auto take = std::min(room, m.size() - sent_);
  sent_ += take;
  queued_ -= take;
  if (sent_ < m.size())
    return {take, false};
  messages_.pop_front();
  sent_ = 0;
  header_sent_ = false;
  return {take, true};
}

sdu_reassembler::result sdu_reassembler::feed(std::span<const uint8_t> sdu) {
  result out;
  if (!expected_) {
    if (sdu.size() < message_header) {
      out.error =
        fmt::format("SDU of {} bytes starts a message but holds no 4-byte length", sdu.size());
      return out;
    }
    size_t n = sdu[0] | sdu[1] << 8 | sdu[2] << 16 | size_t{sdu[3]} << 24;
    if (n > limit_) {
      out.error = fmt::format("frame of {} bytes exceeds the {}-byte limit", n, limit_);
      return out;
    }
    expected_ = n;
    sdu = sdu.subspan(message_header);
  } else if (sdu.empty()) {
    // An empty SDU in a message moves nothing and would let a peer spin us for free.
    out.error = "empty SDU inside a message";
    return out;
  }
  if (sdu.size() > *expected_ - buffer_.size()) {
    out.error = fmt::format("SDU carries {} bytes past the end of a {}-byte message",
                            sdu.size() - (*expected_ - buffer_.size()), *expected_);
    return out;
  }
  buffer_.insert(buffer_.end(), sdu.begin(), sdu.end());
  if (buffer_.size() == *expected_) {
    out.message = std::move(buffer_);
    buffer_ = {};
    expected_.reset();
  }
  return out;
}

std::vector<std::vector<uint8_t>> segment_all(const std::vector<std::vector<uint8_t>>& messages,
                                              size_t mtu) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& m : messages) {
    auto n = static_cast<uint32_t>(m.size());
    std::vector<uint8_t> first{static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                               static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
    size_t pos = std::min(m.size(), mtu - message_header);
    first.insert(first.end(), m.begin(), m.begin() + static_cast<ptrdiff_t>(pos));
    out.push_back(std::move(first));
    while (pos < m.size()) {
      auto take = std::min(mtu, m.size() - pos);
      out.emplace_back(m.begin() + static_cast<ptrdiff_t>(pos),
                       m.begin() + static_cast<ptrdiff_t>(pos + take));
      pos += take;
    }
  }
  return out;
}

} // namespace fwrescue::ble
