// The BLE transport's pure parts: device addresses as text, and the segmentation of messages
// into SDUs and their reassembly, with the inputs a hostile peer can send.

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "tests/support/temp_dir.hpp"
#include "transports/ble/ble_address.hpp"
#include "transports/ble/ble_emulated.hpp"
#include "transports/ble/ble_sdu.hpp"

using namespace fwrescue;
using namespace fwrescue::ble;
using bytes = std::vector<uint8_t>;

namespace {

/// Feeds every SDU; returns the messages and the first error.
std::pair<std::vector<bytes>, std::optional<std::string>> reassemble(const std::vector<bytes>& sdus,
                                                                     size_t limit) {
  sdu_reassembler r{limit};
  std::vector<bytes> out;
  for (const auto& sdu : sdus) {
    auto got = r.feed(sdu);
    if (got.error)
      return {out, got.error};
    if (got.message)
      out.push_back(std::move(*got.message));
  }
  return {out, std::nullopt};
}

} // namespace

TEST_CASE("ble address: parsed in either case, printed upper-case, bdaddr order reversed") {
  auto a = parse_address("0a:1B:2c:3D:4e:5F", "peer address");
  REQUIRE(a);
  CHECK(to_string(*a) == "0A:1B:2C:3D:4E:5F");
  auto b = to_bdaddr(*a);
  CHECK(b[0] == 0x5f);
  CHECK(b[5] == 0x0a);
  uint8_t raw[6] = {0x5f, 0x4e, 0x3d, 0x2c, 0x1b, 0x0a};
  CHECK(from_bdaddr(raw) == *a);
}

TEST_CASE("ble address: a malformed one is an error naming it") {
  for (std::string bad : {"", "0A:1B:2C:3D:4E", "0A:1B:2C:3D:4E:5F:", "0A-1B-2C-3D-4E-5F",
                          "0A:1B:2C:3D:4E:5G", " 0A:1B:2C:3D:4E:5", "0A:1B:2C:3D:4E:5F0"}) {
    auto a = parse_address(bad, "peer address");
    REQUIRE_FALSE(a);
    CHECK(describe(a.error())
          == "peer address \"" + bad
               + "\" is not a Bluetooth device address (\"AA:BB:CC:DD:EE:FF\")");
  }
}

TEST_CASE("ble sdu: messages of every size round-trip at every MTU, SDUs within the MTU") {
  std::vector<bytes> messages;
  for (size_t n : {0u, 1u, 18u, 19u, 20u, 243u, 244u, 245u, 1000u, 100u * 1024u})
    messages.push_back(test::random_bytes(n, n));
  for (size_t mtu : {23u, 24u, 247u, 512u, 65535u}) {
    auto sdus = segment_all(messages, mtu);
    for (const auto& s : sdus)
      CHECK(s.size() <= mtu);
    auto [out, error] = reassemble(sdus, 100 * 1024);
    CHECK_FALSE(error);
    CHECK(out == messages);
    // The segmenter the transport uses writes the same SDUs.
    sdu_segmenter seg;
    for (const auto& m : messages)
      seg.push(m);
    std::vector<bytes> written;
    bytes sdu;
    size_t finished = 0;
    while (!seg.empty()) {
      seg.next(mtu, sdu);
      written.push_back(sdu);
      finished += seg.advance(mtu).second ? 1 : 0;
    }
    CHECK(written == sdus);
    CHECK(finished == messages.size());
    CHECK(seg.queued_bytes() == 0);
  }
}

TEST_CASE("ble sdu: a message above the limit is refused at its first SDU") {
  auto sdus = segment_all({bytes(300, 1), bytes(301, 2)}, 247);
  auto [out, error] = reassemble(sdus, 300);
  CHECK(out.size() == 1);
  REQUIRE(error);
  CHECK(*error == "frame of 301 bytes exceeds the 300-byte limit");
}

TEST_CASE("ble sdu: bad input from a peer closes the channel with its reason") {
  CHECK(*reassemble({{1, 0, 0}}, 100).second
        == "SDU of 3 bytes starts a message but holds no 4-byte length");
  CHECK(*reassemble({{10, 0, 0, 0, 1, 2}, {}}, 100).second == "empty SDU inside a message");
  CHECK(*reassemble({{3, 0, 0, 0, 1}, {2, 3, 4}}, 100).second
        == "SDU carries 1 bytes past the end of a 3-byte message");
  CHECK(*reassemble({{0xff, 0xff, 0xff, 0xff}}, 100).second
        == "frame of 4294967295 bytes exceeds the 100-byte limit");
  sdu_reassembler r{1000};
  CHECK_FALSE(r.feed(bytes{200, 0, 0, 0, 9}).error);
  CHECK(r.in_message());
  CHECK(r.buffered() == 1); // grows with what arrived, not with what was announced
}

TEST_CASE("ble sdu: a channel's first SDU names its kind") {
  CHECK(parse_kind(bytes{0x53}) == channel_kind::session);
  CHECK(parse_kind(bytes{0x44}) == channel_kind::datagrams);
  CHECK_FALSE(parse_kind(bytes{0x45}));
  CHECK_FALSE(parse_kind(bytes{0x53, 0}));
  CHECK_FALSE(parse_kind(bytes{}));
}

TEST_CASE("ble emulation: airtime counts the L2CAP and link-layer overhead") {
  // 247 + 2 = 249 bytes need two K-frames of at most 247: 249 + 2 × (4 + 10).
  CHECK(airtime_bytes(247) == 277);
  CHECK(airtime_bytes(245) == 261);
  CHECK(airtime_bytes(1) == 17);
}
