#include "transports/ble/ble_address.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue::ble {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

caf::expected<device_address> parse_address(const std::string& text, const std::string& what) {
  auto bad = [&] {
    return make_error(errc::invalid_argument,
                      fmt::format("{} \"{}\" is not a Bluetooth device address "
                                  "(\"AA:BB:CC:DD:EE:FF\")",
                                  what, text));
  };
  if (text.size() != 17)
    return bad();
  device_address out;
  for (size_t i = 0; i < 6; ++i) {
    auto hi = hex_digit(text[i * 3]);
    auto lo = hex_digit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':'))
      return bad();
    out.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string to_string(const device_address& address) {
  const auto& b = address.bytes;
  return fmt::format("{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", b[0], b[1], b[2], b[3], b[4],
                     b[5]);
}

std::array<uint8_t, 6> to_bdaddr(const device_address& address) {
  std::array<uint8_t, 6> out{};
  for (size_t i = 0; i < 6; ++i)
    out[i] = address.bytes[5 - i];
  return out;
}

device_address from_bdaddr(const uint8_t (&b)[6]) {
  device_address out;
  for (size_t i = 0; i < 6; ++i)
    out.bytes[i] = b[5 - i];
  return out;
}

} // namespace fwrescue::ble
