#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <caf/expected.hpp>

// Bluetooth device addresses as the BLE transport's options, events and socket names spell
// them. Parsed and printed here rather than with libbluetooth's str2ba()/ba2str(), which accept
// malformed text silently and would pull in the library for two functions.
namespace fwrescue::ble {

/// A device address, most significant byte first as it is written ("AA:..." is bytes[0]).
/// bdaddr_t holds the same bytes in the reverse order; to_bdaddr() converts.
struct device_address {
  std::array<uint8_t, 6> bytes{};

  bool operator==(const device_address&) const = default;
  auto operator<=>(const device_address&) const = default;
};

/// Parses "AA:BB:CC:DD:EE:FF": six two-digit hexadecimal bytes, either case, colons between.
/// `what` names the field in the error ("peer address").
caf::expected<device_address> parse_address(const std::string& text, const std::string& what);

/// Renders "AA:BB:CC:DD:EE:FF", upper-case.
std::string to_string(const device_address& address);

/// The address in bdaddr_t's byte order (least significant byte first).
std::array<uint8_t, 6> to_bdaddr(const device_address& address);

/// The address from bdaddr_t's byte order.
device_address from_bdaddr(const uint8_t (&b)[6]);

} // namespace fwrescue::ble
