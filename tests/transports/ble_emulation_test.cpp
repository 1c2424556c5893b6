// The emulated channel on its own, through the adapter interface the transport uses: the
// set-up, the MTU, the credits and the rate, as the kernel's L2CAP LE channel shows them.

#include <catch2/catch.hpp>

#include <poll.h>
#include <thread>

#include "common/error.hpp"
#include "tests/support/temp_dir.hpp"
#include "transports/ble/ble_emulated.hpp"

using namespace fwrescue;
using namespace fwrescue::ble;
using namespace std::chrono_literals;
using bytes = std::vector<uint8_t>;

namespace {

device_address address(uint8_t last) {
  return device_address{{0x0c, 0, 0, 0, 0, last}};
}

std::unique_ptr<emulated_adapter> adapter_at(const test::temp_dir& dir, uint8_t last,
                                             size_t mtu = 247, uint16_t credits = 8,
                                             uint64_t rate = 100'000'000) {
  auto path = dir.path("");
  path.pop_back();
  auto a = emulated_adapter::open({path, address(last), mtu, credits, rate}, "test");
  INFO((a ? "" : describe(a.error())));
  REQUIRE(a);
  return std::move(*a);
}

/// Drives progress() on both ends until both are open.
void set_up(channel& a, channel& b) {
  for (int i = 0; i < 1000; ++i) {
    auto x = a.progress();
    auto y = b.progress();
    REQUIRE(x);
    REQUIRE(y);
    if (*x && *y)
      return;
    std::this_thread::sleep_for(1ms);
  }
  FAIL("channel set-up did not finish");
}

struct pair_of_channels {
  std::unique_ptr<channel> out;
  std::unique_ptr<channel> in;
};

pair_of_channels open_pair(emulated_adapter& from, emulated_adapter& to) {
  auto out = from.connect(to.address());
  REQUIRE(out);
  std::unique_ptr<channel> in;
  for (int i = 0; i < 1000 && !in; ++i) {
    auto got = to.accept();
    REQUIRE(got);
    in = std::move(*got);
    if (!in)
      std::this_thread::sleep_for(1ms);
  }
  REQUIRE(in);
  set_up(**out, *in);
  return {std::move(*out), std::move(in)};
}

} // namespace

TEST_CASE("ble emulation: set-up exchanges the addresses and each side's MTU") {
  test::temp_dir dir;
  auto a = adapter_at(dir, 1, 100);
  auto b = adapter_at(dir, 2, 300);
  auto [out, in] = open_pair(*a, *b);
  CHECK(out->peer() == address(2));
  CHECK(in->peer() == address(1));
  CHECK(out->send_mtu() == 300);
  CHECK(in->send_mtu() == 100);
}

TEST_CASE("ble emulation: an SDU above the peer's MTU is refused, as the kernel refuses it") {
  test::temp_dir dir;
  auto a = adapter_at(dir, 1);
  auto b = adapter_at(dir, 2, 64);
  auto [out, in] = open_pair(*a, *b);
  std::string reason;
  CHECK(out->send(bytes(65, 1), reason) == io_status::failed);
  CHECK(reason == "SDU of 65 bytes exceeds the peer's MTU of 64");
  CHECK(out->send(bytes(64, 1), reason) == io_status::done);
}

TEST_CASE("ble emulation: a sender stops at no credit and goes on as the receiver reads") {
  test::temp_dir dir;
  auto a = adapter_at(dir, 1);
  auto b = adapter_at(dir, 2, 247, 3);
  auto [out, in] = open_pair(*a, *b);
  std::string reason;
  for (uint8_t i = 0; i < 3; ++i)
    REQUIRE(out->send(bytes(10, i), reason) == io_status::done);
  CHECK(out->send(bytes(10, 3), reason) == io_status::blocked);
  std::this_thread::sleep_for(50ms);
  CHECK(out->send(bytes(10, 3), reason) == io_status::blocked); // still none
  // The sender asks poll() for input then: the credits come in-band.
  CHECK((out->poll_events(false, true) & POLLIN) != 0);
  bytes sdu;
  REQUIRE(in->receive(sdu, reason) == io_status::done);
  CHECK(sdu == bytes(10, 0));
  bool sent = false;
  for (int i = 0; i < 1000 && !sent; ++i) {
    sent = out->send(bytes(10, 3), reason) == io_status::done;
    if (!sent)
      std::this_thread::sleep_for(1ms);
  }
  CHECK(sent);
  CHECK(out->send(bytes(10, 4), reason) == io_status::blocked);
  for (uint8_t i = 1; i < 4; ++i) {
    REQUIRE(in->receive(sdu, reason) == io_status::done);
    CHECK(sdu == bytes(10, i));
  }
  CHECK(in->receive(sdu, reason) == io_status::blocked);
  out.reset();
  CHECK(in->receive(sdu, reason) == io_status::closed);
  CHECK(reason == "closed by peer");
}

TEST_CASE("ble emulation: SDUs leave no faster than their airtime at the rate") {
  test::temp_dir dir;
  constexpr uint64_t rate = 1'000'000;
  auto a = adapter_at(dir, 1, 247, 8, rate);
  auto b = adapter_at(dir, 2, 247, 64, rate);
  auto [out, in] = open_pair(*a, *b);
  std::string reason;
  constexpr int count = 40;
  auto start = clock::now();
  int sent = 0;
  bytes sdu;
  while (sent < count) {
    auto s = out->send(bytes(247, 9), reason);
    REQUIRE(s != io_status::failed);
    if (s == io_status::done)
      ++sent;
    else if (auto at = out->wake_at())
      std::this_thread::sleep_until(*at);
    while (in->receive(sdu, reason) == io_status::done) {
    }
  }
  auto elapsed = std::chrono::duration<double>(clock::now() - start).count();
  // The first SDU may use the 2 ms a late timer is allowed to make good.
  CHECK(elapsed >= count * airtime_bytes(247) * 8.0 / rate - 0.002);
}

TEST_CASE("ble emulation: a peer that is not listening, and an address already taken") {
  test::temp_dir dir;
  auto a = adapter_at(dir, 1);
  auto c = a->connect(address(9));
  REQUIRE_FALSE(c);
  CHECK(describe(c.error())
        == "connect to 0C:00:00:00:00:09: no node listens there (" + dir.path("")
             + "0C:00:00:00:00:09.sock: No such file or directory)");
  auto path = dir.path("");
  path.pop_back();
  auto again = emulated_adapter::open({path, address(1), 247, 8, 500000}, "ble");
  REQUIRE_FALSE(again);
  CHECK(describe(again.error())
        == "ble: another node listens on " + dir.path("") + "0C:00:00:00:00:01.sock");
}
