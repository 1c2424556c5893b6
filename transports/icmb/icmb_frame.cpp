#include "transports/icmb/icmb_frame.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace fwrescue::icmb {

namespace {

std::array<uint32_t, 256> make_crc32_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

std::array<uint16_t, 256> make_crc16_table() {
  std::array<uint16_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint16_t c = static_cast<uint16_t>(i << 8);
    for (int k = 0; k < 8; ++k)
      c = static_cast<uint16_t>((c & 0x8000) != 0 ? (c << 1) ^ 0x1021 : c << 1);
    table[i] = c;
  }
  return table;
}

uint16_t get16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | p[1] << 8);
}

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

} // namespace

uint16_t crc16_ccitt(const uint8_t* data, size_t size) {
  static const auto table = make_crc16_table();
  uint16_t crc = 0xffff;
  for (size_t i = 0; i < size; ++i)
    crc = static_cast<uint16_t>((crc << 8) ^ table[((crc >> 8) ^ data[i]) & 0xff]);
  return crc;
}

uint32_t crc32_ieee(const uint8_t* data, size_t size) {
  static const auto table = make_crc32_table();
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

void encode(const frame& f, std::vector<uint8_t>& out) {
  auto at = out.size();
  out.push_back(preamble0);
  out.push_back(preamble1);
  put16(out, f.dst);
  put16(out, f.src);
  out.push_back(static_cast<uint8_t>(static_cast<uint8_t>(f.kind) | (f.flags & 0xf0)));
  out.push_back(f.conn);
  put16(out, f.seq);
  put16(out, f.ack);
  put16(out, static_cast<uint16_t>(f.payload.size()));
  put16(out, crc16_ccitt(out.data() + at + 2, 12));
  if (f.payload.empty())
    return;
  out.insert(out.end(), f.payload.begin(), f.payload.end());
  put32(out, crc32_ieee(f.payload.data(), f.payload.size()));
}

std::vector<uint8_t> encode(const frame& f) {
  std::vector<uint8_t> out;
  out.reserve(frame_overhead + f.payload.size());
  encode(f, out);
  return out;
}

decoder::decoder(size_t max_payload) : max_payload_(std::min(max_payload, max_wire_payload)) {
  buf_.reserve(header_size + max_payload_ + payload_crc_size);
}

void decoder::feed(const uint8_t* data, size_t size, std::vector<frame>& out) {
  offset_ += size;
  // Feed in pieces no larger than the room left, so the buffer stays within one frame.
  auto cap = header_size + max_payload_ + payload_crc_size;
  while (size > 0) {
    auto room = cap - buf_.size();
    auto n = std::min(room, size);
    buf_.insert(buf_.end(), data, data + n);
    data += n;
    size -= n;
    while (step(out)) {
    }
  }
}

void decoder::drop(size_t n) {
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
  base_ += n;
}

bool decoder::step(std::vector<frame>& out) {
  // Find the preamble; keep a lone first byte at the end, its partner may follow.
  size_t i = 0;
  while (i + 1 < buf_.size() && !(buf_[i] == preamble0 && buf_[i + 1] == preamble1))
    ++i;
  if (i + 1 >= buf_.size() && !buf_.empty() && buf_.back() != preamble0)
    i = buf_.size();
  if (i > 0) {
    counters_.garbage_bytes += i;
    drop(i);
  }
  if (buf_.size() < header_size)
    return false;
  const uint8_t* h = buf_.data();
  if (crc16_ccitt(h + 2, 12) != get16(h + 14)) {
    ++counters_.bad_header_crc;
    counters_.garbage_bytes += 1;
    drop(1);
    return true;
  }
  size_t len = get16(h + 12);
  if (len > max_payload_) {
    ++counters_.bad_length;
    counters_.garbage_bytes += 1;
    drop(1);
    return true;
  }
  size_t total = header_size + (len > 0 ? len + payload_crc_size : 0);
  if (buf_.size() < total)
    return false;
  if (len > 0) {
    const uint8_t* p = h + header_size;
    uint32_t crc = p[len] | p[len + 1] << 8 | p[len + 2] << 16 | uint32_t{p[len + 3]} << 24;
    if (crc32_ieee(p, len) != crc) {
      ++counters_.bad_payload_crc;
      counters_.garbage_bytes += 1;
      drop(1);
      return true;
    }
  }
  frame f;
  f.dst = get16(h + 2);
  f.src = get16(h + 4);
  f.kind = static_cast<frame_kind>(h[6] & 0x0f);
  f.flags = h[6] & 0xf0;
  f.conn = h[7];
  f.seq = get16(h + 8);
  f.ack = get16(h + 10);
  f.payload.assign(h + header_size, h + header_size + len);
  f.start = base_;
  ++counters_.frames;
  drop(total);
  out.push_back(std::move(f));
  return true;
}

std::string format_address(uint16_t address) {
  return fmt::format("0x{:04x}", address);
}

std::optional<uint16_t> parse_address(const std::string& text) {
  if (text.size() < 3 || text.size() > 6 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
    return std::nullopt;
  uint32_t v = 0;
  for (size_t i = 2; i < text.size(); ++i) {
    char c = text[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0)
      return std::nullopt;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  return static_cast<uint16_t>(v);
}

} // namespace fwrescue::icmb
