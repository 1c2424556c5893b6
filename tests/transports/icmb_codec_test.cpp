// The ICMB transport's pure parts: the bus frame codec and its decoder (CRCs, resync, bounds),
// addresses, and the session windows (fragmentation, reassembly, acks and loss inference).

#include <catch2/catch.hpp>

#include <cmath>

#include "tests/support/temp_dir.hpp"
#include "transports/icmb/icmb_frame.hpp"
#include "transports/icmb/icmb_session.hpp"
#include "transports/icmb/icmb_timing.hpp"

using namespace fwrescue;
using namespace fwrescue::icmb;
using bytes = std::vector<uint8_t>;

namespace {

frame sample(size_t payload, uint16_t seq = 7) {
  frame f;
  f.dst = 0x0012;
  f.src = 0xbeef;
  f.kind = frame_kind::data;
  f.flags = flag_from_opener | flag_ack_request;
  f.conn = 3;
  f.seq = seq;
  f.ack = 0x1234;
  f.payload = test::random_bytes(payload, seq);
  return f;
}

std::vector<frame> decode_all(decoder& d, const bytes& b) {
  std::vector<frame> out;
  d.feed(b.data(), b.size(), out);
  return out;
}

void check_same(const frame& a, const frame& b) {
  CHECK(a.dst == b.dst);
  CHECK(a.src == b.src);
  CHECK(a.kind == b.kind);
  CHECK(a.flags == b.flags);
  CHECK(a.conn == b.conn);
  CHECK(a.seq == b.seq);
  CHECK(a.ack == b.ack);
  CHECK(a.payload == b.payload);
}

} // namespace

TEST_CASE("icmb codec: the CRCs are the standard ones") {
  const std::string check = "123456789";
  auto* p = reinterpret_cast<const uint8_t*>(check.data());
  CHECK(crc16_ccitt(p, check.size()) == 0x29b1);
  CHECK(crc32_ieee(p, check.size()) == 0xcbf43926u);
}

TEST_CASE("icmb codec: frames round trip, one byte at a time or all at once") {
  decoder d;
  bytes stream;
  std::vector<frame> sent;
  for (size_t n : {0u, 1u, 100u, 768u, 4096u}) {
    sent.push_back(sample(n, static_cast<uint16_t>(n)));
    encode(sent.back(), stream);
  }
  CHECK(encode(sample(768)).size() == 768 + frame_overhead);
  CHECK(encode(sample(0)).size() == header_size);
  SECTION("all at once") {
    auto got = decode_all(d, stream);
    REQUIRE(got.size() == sent.size());
    for (size_t i = 0; i < got.size(); ++i)
      check_same(got[i], sent[i]);
    CHECK(got[1].start == header_size);
  }
  SECTION("byte by byte") {
    std::vector<frame> got;
    for (auto b : stream)
      d.feed(&b, 1, got);
    REQUIRE(got.size() == sent.size());
    for (size_t i = 0; i < got.size(); ++i)
      check_same(got[i], sent[i]);
  }
  CHECK(d.counters().frames == sent.size());
  CHECK(d.counters().garbage_bytes == 0);
}

TEST_CASE("icmb codec: a flipped bit anywhere in a frame drops it, and the next still decodes") {
  auto good = encode(sample(300));
  auto next = encode(sample(50, 9));
  uint64_t dropped = 0;
  for (size_t bit = 0; bit < good.size() * 8; bit += 7) {
    auto bad = good;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    bad.insert(bad.end(), next.begin(), next.end());
    decoder d;
    auto got = decode_all(d, bad);
    INFO("bit " << bit);
    REQUIRE(got.size() == 1);
    CHECK(got[0].seq == 9);
    dropped += d.counters().bad_header_crc + d.counters().bad_payload_crc;
  }
  CHECK(dropped > 0);
}

TEST_CASE("icmb codec: garbage before, between and inside frames is skipped") {
  auto noise = test::random_bytes(5000, 42);
  bytes stream = noise;
  stream.push_back(preamble0); // a lone half preamble
  auto a = encode(sample(200, 1));
  stream.insert(stream.end(), a.begin(), a.end());
  stream.insert(stream.end(), {preamble0, preamble1, 1, 2, 3}); // a truncated frame
  auto b = encode(sample(10, 2));
  stream.insert(stream.end(), b.begin(), b.end());
  decoder d;
  auto got = decode_all(d, stream);
  REQUIRE(got.size() >= 2);
  CHECK(got[got.size() - 2].seq == 1);
  CHECK(got.back().seq == 2);
  CHECK(got.back().payload == sample(10, 2).payload);
  CHECK(d.counters().garbage_bytes >= noise.size() - 64);
}

TEST_CASE("icmb codec: a length above the limit is dropped at the header, the buffer stays small") {
  decoder d{100};
  auto big = encode(sample(200, 1));
  auto small = encode(sample(100, 2));
  bytes stream = big;
  stream.insert(stream.end(), small.begin(), small.end());
  auto got = decode_all(d, stream);
  REQUIRE(got.size() == 1);
  CHECK(got[0].seq == 2);
  CHECK(d.counters().bad_length == 1);
}

TEST_CASE("icmb addresses: 0x and four hex digits") {
  CHECK(format_address(0x12) == "0x0012");
  CHECK(format_address(0xffff) == "0xffff");
  CHECK(parse_address("0x0012") == uint16_t{0x12});
  CHECK(parse_address("0XBEEF") == uint16_t{0xbeef});
  CHECK_FALSE(parse_address("12"));
  CHECK_FALSE(parse_address("0x"));
  CHECK_FALSE(parse_address("0x12345"));
  CHECK_FALSE(parse_address("0xg0"));
  CHECK_FALSE(parse_address("127.0.0.1:5"));
}

namespace {

/// Moves every payload `tx` has to `rx` (dropping those `lose` says), then acks.
std::vector<bytes> pump(send_window& tx, receive_window& rx, uint64_t& offset,
                        const std::function<bool(uint64_t)>& lose = {}) {
  std::vector<bytes> delivered;
  auto deliver = [&](bytes b) { delivered.push_back(std::move(b)); };
  for (int round = 0; round < 1000 && !tx.idle(); ++round) {
    while (auto p = tx.next()) {
      offset += p->payload->size() + frame_overhead;
      auto seq = p->seq;
      auto payload = *p->payload;
      tx.transmitted(seq, offset, clock::now());
      if (lose && lose(seq))
        continue;
      std::optional<std::string> error;
      rx.on_data(static_cast<uint16_t>(seq), payload, deliver, error);
      REQUIRE_FALSE(error);
    }
    offset += 24;
    tx.on_ack(rx.cumulative(), rx.sack(), true, offset - 24);
  }
  return delivered;
}

} // namespace

TEST_CASE("icmb sessions: frames are cut into payloads and put back together") {
  send_window tx{768};
  receive_window rx{256 * 1024};
  std::vector<bytes> frames{test::random_bytes(100 * 1024, 1),
                            {},
                            test::random_bytes(1, 2),
                            test::random_bytes(767, 3),
                            test::random_bytes(5000, 4)};
  size_t total = 0;
  for (auto& f : frames) {
    tx.queue(f);
    total += f.size() + frame_prefix;
  }
  CHECK(tx.unsent_bytes() == total);
  uint64_t offset = 0;
  auto got = pump(tx, rx, offset);
  CHECK(got == frames);
  CHECK(tx.idle());
  // Every payload but the last is full.
  CHECK(rx.expected() == (total + 767) / 768);
}

TEST_CASE("icmb sessions: lost payloads are sent again after the ack that misses them") {
  send_window tx{64};
  receive_window rx{1 << 20};
  auto frame = test::random_bytes(20000, 9);
  tx.queue(frame);
  uint64_t offset = 0;
  std::map<uint64_t, int> losses;
  // Every third payload is lost the first two times it is sent.
  auto got = pump(tx, rx, offset, [&](uint64_t seq) { return seq % 3 == 0 && losses[seq]++ < 2; });
  REQUIRE(got.size() == 1);
  CHECK(got[0] == frame);
  CHECK(tx.retransmissions() > 0);
}

TEST_CASE("icmb sessions: duplicates and payloads outside the window are not delivered twice") {
  receive_window rx{1 << 20};
  std::vector<bytes> got;
  auto deliver = [&](bytes b) { got.push_back(std::move(b)); };
  std::optional<std::string> error;
  bytes whole{3, 0, 0, 0, 'a', 'b', 'c'};
  CHECK(rx.on_data(1, {whole.begin() + 4, whole.end()}, deliver, error)
        == receive_window::result::fresh);
  CHECK(rx.sack() == 1);
  CHECK(rx.on_data(1, {whole.begin() + 4, whole.end()}, deliver, error)
        == receive_window::result::duplicate);
  CHECK(rx.on_data(40, {1}, deliver, error) == receive_window::result::out_of_window);
  CHECK(rx.on_data(0, {whole.begin(), whole.begin() + 4}, deliver, error)
        == receive_window::result::fresh);
  CHECK(rx.on_data(0, {whole.begin(), whole.begin() + 4}, deliver, error)
        == receive_window::result::duplicate);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == bytes{'a', 'b', 'c'});
  CHECK(rx.cumulative() == 2);
  CHECK_FALSE(error);
}

TEST_CASE("icmb sessions: a frame above the receiver's limit is refused by its length") {
  receive_window rx{1000};
  std::optional<std::string> error;
  rx.on_data(
    0, {0xe8, 0x03, 0, 0}, [](bytes) {}, error);
  CHECK_FALSE(error);
  receive_window rx2{1000};
  rx2.on_data(
    0, {0xe9, 0x03, 0, 0}, [](bytes) {}, error);
  REQUIRE(error);
  CHECK(*error == "frame of 1001 bytes exceeds the 1000-byte limit");
}

TEST_CASE("icmb sessions: seqs widen across the 16-bit wrap") {
  CHECK(widen_seq(0xffff, 0x10000) == 0xffff);
  CHECK(widen_seq(0x0001, 0xfffe) == 0x10001);
  CHECK(widen_seq(5, 5) == 5);
}

TEST_CASE("icmb timing: acks win the bus over data, and times scale with the baud") {
  auto slow = make_timing(19200, 768);
  auto fast = make_timing(115200, 768);
  CHECK(slow.ack_gap < slow.data_gap);
  CHECK(fast.ack_gap < fast.data_gap);
  CHECK(slow.rto > fast.rto);
  // The retransmission timer covers at least one whole data frame and its ack.
  CHECK(fast.rto > fast.byte_time * (768 + 2 * frame_overhead + 4));
}

TEST_CASE("icmb sessions: payloads shrink on a lossy bus, to the size that carries most") {
  // 1 KiB payloads with 90 bytes of overhead at a bit-error rate of 1e-4: 59 % are lost.
  double loss = 1 - std::pow(1 - 1e-4, 8 * (1024 + 90));
  auto n = payload_for_loss(loss, 1024, 90);
  CHECK(n >= 320);
  CHECK(n <= 350); // sqrt(90 / 8e-4) = 335
  send_window tx{1024, 90};
  CHECK(tx.payload_size() == 1024);
  tx.queue(bytes(100000, 1));
  // Every payload the ack after it does not hold is lost.
  uint64_t offset = 0;
  for (int i = 0; i < 40; ++i) {
    auto p = tx.next();
    REQUIRE(p);
    offset += 1000;
    tx.transmitted(p->seq, offset, clock::now());
    tx.on_ack(0, 0, true, offset + 1);
  }
  CHECK(tx.loss() > 0.5);
  CHECK(tx.payload_size() < 400);
  CHECK(tx.payload_size() >= 64);
}
