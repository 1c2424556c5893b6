// Fuzzes the BLE transport's SDU codec (transports/ble/ble_sdu.hpp): sdu_reassembler::feed()
// on the SDUs a peer sends, and the round trip through sdu_segmenter.
//
// Input: one byte choosing the MTU (23 + the byte), one byte choosing the reassembler's limit
// (0 for ble::max_frame, else that many bytes, so messages at and just above a limit fit in a
// short input), then records of a 2-byte little-endian length and that many bytes (a short
// last record takes what is left). Each record is fed as one SDU; the messages delivered must
// be exactly those a plain reading of the SDUs finds, and the first violation must close the
// channel with a reason. Independently, the records taken as messages, cut by the segmenter at
// the MTU, must give SDUs within the MTU that reassemble to the same messages.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "transports/ble/ble_io.hpp"
#include "transports/ble/ble_sdu.hpp"

namespace fwrescue::fuzz {
namespace {

using bytes = std::vector<uint8_t>;

/// At most this many records per input: more find nothing a short input does not.
constexpr size_t max_records = 512;

struct expected_channel {
  std::vector<bytes> messages;
  /// The SDU index at which the channel must close, if any.
  std::optional<size_t> error_at;
  /// Bytes of a message still open at the end.
  size_t partial = 0;
};

/// The SDUs read the plain way: a message starts with a 4-byte length, and later SDUs,
/// non-empty, fill it exactly.
expected_channel read_plainly(const std::vector<bytes>& sdus, size_t limit) {
  expected_channel out;
  std::optional<size_t> need;
  bytes current;
  for (size_t i = 0; i < sdus.size(); ++i) {
    const auto& s = sdus[i];
    size_t pos = 0;
    if (!need) {
      size_t n = s.size() >= 4 ? (s[0] | s[1] << 8 | s[2] << 16 | size_t{s[3]} << 24) : 0;
      if (s.size() < 4 || n > limit) {
        out.error_at = i;
        return out;
      }
      need = n;
      pos = 4;
    } else if (s.empty()) {
      out.error_at = i;
      return out;
    }
    if (s.size() - pos > *need - current.size()) {
      out.error_at = i;
      return out;
    }
    current.insert(current.end(), s.begin() + static_cast<ptrdiff_t>(pos), s.end());
    if (current.size() == *need) {
      out.messages.push_back(std::move(current));
      current.clear();
      need.reset();
    }
  }
  out.partial = current.size();
  return out;
}

} // namespace
} // namespace fwrescue::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fwrescue;
  using fuzz::check;
  if (size < 2)
    return 0;
  size_t mtu = ble::min_mtu + data[0];
  size_t limit = data[1] == 0 ? ble::max_frame : data[1];
  data += 2;
  size -= 2;
  std::vector<fuzz::bytes> records;
  while (size > 0 && records.size() < fuzz::max_records) {
    size_t n = size >= 2 ? (data[0] | size_t{data[1]} << 8) : 0;
    auto skip = std::min<size_t>(2, size);
    n = std::min(n, size - skip);
    records.emplace_back(data + skip, data + skip + n);
    data += skip + n;
    size -= skip + n;
  }

  auto expected = fuzz::read_plainly(records, limit);
  ble::sdu_reassembler reassembler{limit};
  std::vector<fuzz::bytes> delivered;
  std::optional<size_t> error_at;
  for (size_t i = 0; i < records.size() && !error_at; ++i) {
    auto got = reassembler.feed(records[i]);
    check(!(got.error && got.message), "an SDU either fails or delivers");
    if (got.error) {
      check(!got.error->empty(), "a failure has a reason");
      error_at = i;
    }
    if (got.message) {
      check(got.message->size() <= limit, "no message above the limit is delivered");
      delivered.push_back(std::move(*got.message));
    }
    check(reassembler.buffered() <= limit, "the buffer stays within the limit");
  }
  check(error_at == expected.error_at, "the channel fails exactly at the first bad SDU");
  check(delivered == expected.messages, "messages delivered are the SDUs' messages, in order");
  if (!error_at)
    check(reassembler.buffered() == expected.partial, "a partial message is all buffered");

  // The round trip: the records as messages, through the segmenter and back.
  ble::sdu_segmenter segmenter;
  for (const auto& r : records)
    segmenter.push(r);
  ble::sdu_reassembler back{ble::max_frame};
  std::vector<fuzz::bytes> round;
  fuzz::bytes sdu;
  while (!segmenter.empty()) {
    segmenter.next(mtu, sdu);
    check(sdu.size() <= mtu, "no SDU above the MTU");
    segmenter.advance(mtu);
    auto got = back.feed(sdu);
    check(!got.error, "the segmenter's SDUs reassemble");
    if (got.message)
      round.push_back(std::move(*got.message));
  }
  check(segmenter.queued_bytes() == 0, "nothing stays queued");
  check(round == records, "messages come back whole and in order");
  check(ble::segment_all(records, mtu).size() > 0 || records.empty(),
        "segment_all writes an SDU per message at least");
  return 0;
}
