// Fuzzes the ICMB bus frame decoder, fwrescue::icmb::decoder (transports/icmb/icmb_frame.hpp):
// the bytes every node on the bus can put on the wire reach it exactly this way.
//
// Input: one byte choosing how many bytes each feed() carries (1 to 256), one byte choosing the
// decoder's payload limit (0 for max_wire_payload, else 16 times it), then the byte stream.
// Every frame decoded must be exactly the encoding of itself at the offset it names, within the
// limit, after the previous frame; the frames must not depend on how the stream is split; and
// the decoder's buffer never holds more than one largest frame (it checks that itself by
// construction: the harness checks the frames only).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "transports/icmb/icmb_frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fwrescue;
  using fuzz::check;
  if (size < 2)
    return 0;
  size_t chunk = size_t{data[0]} + 1;
  size_t limit = data[1] == 0 ? icmb::max_wire_payload : size_t{data[1]} * 16;
  data += 2;
  size -= 2;

  icmb::decoder split{limit};
  std::vector<icmb::frame> by_chunks;
  for (size_t pos = 0; pos < size; pos += chunk)
    split.feed(data + pos, std::min(chunk, size - pos), by_chunks);
  icmb::decoder whole{limit};
  std::vector<icmb::frame> at_once;
  whole.feed(data, size, at_once);

  check(by_chunks.size() == at_once.size(), "the frames do not depend on how the stream is split");
  check(split.offset() == size, "the decoder counts every byte fed");
  uint64_t next_free = 0;
  for (size_t i = 0; i < at_once.size(); ++i) {
    const auto& f = at_once[i];
    const auto& g = by_chunks[i];
    check(f.start == g.start && f.payload == g.payload && f.seq == g.seq && f.ack == g.ack
            && f.dst == g.dst && f.src == g.src && f.kind == g.kind && f.flags == g.flags
            && f.conn == g.conn,
          "the frames do not depend on how the stream is split");
    check(f.payload.size() <= std::min(limit, icmb::max_wire_payload),
          "no frame is above the payload limit");
    check(f.start >= next_free, "frames come in order and do not overlap");
    auto wire = icmb::encode(f);
    check(f.start + wire.size() <= size, "a frame lies within the stream");
    check(std::memcmp(wire.data(), data + f.start, wire.size()) == 0,
          "a frame is exactly the encoding of what was decoded, at its offset");
    next_free = f.start + wire.size();
  }
  const auto& c = whole.counters();
  check(c.frames == at_once.size(), "frames are counted");
  return 0;
}
