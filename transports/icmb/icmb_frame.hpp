#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// The ICMB transport's frames on the bus and the decoder that finds them in the byte stream.
//
// On the wire (multi-byte fields little-endian):
//
//   preamble  0xa5 0x5a
//   header    dst u16, src u16, type u8 (low nibble kind, high nibble flags), conn u8,
//             seq u16, ack u16, len u16
//   hcrc      CRC-16/CCITT-FALSE of the 12 header bytes
//   payload   len bytes, then CRC-32 (IEEE) of the payload; both absent when len is 0
//
// The header has a CRC of its own so that a garbled length is refused as soon as the header
// is in, instead of making the decoder swallow the frames after it while it waits for bytes
// that never belonged to this frame. The payload has a CRC-32: at a bit-error rate of 1e-4 a
// 1 KiB payload is hit about every other frame, and over a 32 MiB image that is tens of
// thousands of damaged frames; CRC-16 would let about one in 65536 of them through, CRC-32
// one in four billion (and detects every error of up to 3 bits in frames this size).

namespace fwrescue::icmb {

/// Bus addresses: 0x0001..0xfffe name one node, 0xffff all of them.
constexpr uint16_t broadcast_address = 0xffff;

constexpr uint8_t preamble0 = 0xa5;
constexpr uint8_t preamble1 = 0x5a;
constexpr size_t header_size = 2 + 12 + 2;
constexpr size_t payload_crc_size = 4;
/// Bytes a frame adds to its payload (a payload of 0 bytes has no CRC).
constexpr size_t frame_overhead = header_size + payload_crc_size;
/// Largest payload any node may put in a frame; a larger length is impossible and the frame
/// is dropped. It bounds the decoder's buffer.
constexpr size_t max_wire_payload = 4096;

enum class frame_kind : uint8_t {
  /// Session bytes: seq numbers the frame, ack is the sender's cumulative acknowledgement.
  data = 0,
  /// ack: next seq expected; payload: u32 bitmap, bit i set when seq ack+1+i is held.
  ack = 1,
  /// Opens a session: conn is the opener's number for it, seq a nonce telling a repeated open
  /// from a new one.
  open = 2,
  /// Accepts an open (echoes conn and seq).
  open_ok = 3,
  /// The session ends: seq is the sender's next data seq, all before it are to be delivered.
  close = 4,
  /// No such session, or refused; the payload is the reason as text.
  reset = 5,
  /// A datagram fragment: seq is the datagram's id, ack is index << 8 | count.
  datagram = 6,
};

/// Set on frames sent by the node that opened the session, so each side can tell its own
/// sessions from the peer's under the same conn number.
constexpr uint8_t flag_from_opener = 0x80;
/// The sender asks for an acknowledgement now (its window is nearly full, or it has no more).
constexpr uint8_t flag_ack_request = 0x40;

/// One decoded frame.
struct frame {
  uint16_t dst = 0;
  uint16_t src = 0;
  frame_kind kind = frame_kind::data;
  uint8_t flags = 0;
  uint8_t conn = 0;
  uint16_t seq = 0;
  uint16_t ack = 0;
  std::vector<uint8_t> payload;
  /// Offset of the frame's first byte in the stream fed to the decoder.
  uint64_t start = 0;
};

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xffff).
uint16_t crc16_ccitt(const uint8_t* data, size_t size);
/// CRC-32 (IEEE 802.3, reflected, as zlib's).
uint32_t crc32_ieee(const uint8_t* data, size_t size);

/// Appends the wire bytes of `f` to `out` (f.start is ignored). The payload must be at most
/// max_wire_payload bytes.
void encode(const frame& f, std::vector<uint8_t>& out);
std::vector<uint8_t> encode(const frame& f);

/// What the decoder dropped, for status and tests.
struct decoder_counters {
  uint64_t frames = 0;
  /// Bytes skipped while looking for a preamble.
  uint64_t garbage_bytes = 0;
  uint64_t bad_header_crc = 0;
  uint64_t bad_length = 0;
  uint64_t bad_payload_crc = 0;
};

/// Finds frames in a byte stream that may hold garbage, collisions and bit errors: a pure
/// class fed bytes as they come. Its buffer never holds more than one largest frame. After
/// a bad header or payload CRC it resumes the search one byte after the preamble it had taken,
/// so a real frame that starts inside the damaged one is still found.
class decoder {
public:
  /// Frames with a payload above `max_payload` (at most max_wire_payload) are dropped.
  explicit decoder(size_t max_payload = max_wire_payload);

  /// Feeds bytes; every whole frame is returned in order, by appending to `out`.
  void feed(const uint8_t* data, size_t size, std::vector<frame>& out);

  const decoder_counters& counters() const {
    return counters_;
  }

  /// Bytes fed so far (the offset of the next byte).
  uint64_t offset() const {
    return offset_;
  }

private:
  /// Takes what frames the buffer holds; false when it needs more bytes.
  bool step(std::vector<frame>& out);
  /// Drops `n` bytes from the front of the buffer.
  void drop(size_t n);

  size_t max_payload_;
  std::vector<uint8_t> buf_;
  /// Stream offset of buf_[0].
  uint64_t base_ = 0;
  uint64_t offset_ = 0;
  decoder_counters counters_;
};

/// "0x0012" for 0x12.
std::string format_address(uint16_t address);
/// Parses "0x0012" (0x and 1 to 4 hex digits, either case); nothing when malformed.
std::optional<uint16_t> parse_address(const std::string& text);

} // namespace fwrescue::icmb
