#include "config/link_sections.hpp"

#include <array>
#include <cctype>

namespace fwrescue::config_detail {

namespace {

/// The rates a serial driver's termios table has; others cannot be asked for.
bool standard_baud(int64_t baud) {
  constexpr std::array<int64_t, 20> rates{1200,   2400,   4800,   9600,    19200,  38400, 57600,
                                          115200, 230400, 460800, 500000,  576000, 921600,
                                          1000000, 1152000, 1500000, 2000000, 2500000, 3000000,
                                          4000000};
  return std::find(rates.begin(), rates.end(), baud) != rates.end();
}

/// "AA:BB:CC:DD:EE:FF": six hexadecimal pairs separated by colons.
bool valid_bdaddr(std::string_view s) {
  if (s.size() != 17)
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool colon = i % 3 == 2;
    if (colon ? s[i] != ':' : !std::isxdigit(static_cast<unsigned char>(s[i])))
      return false;
  }
  return true;
}

bool valid_bdaddr_or_empty(std::string_view s) {
  return s.empty() || valid_bdaddr(s);
}

bool valid_psm(int64_t psm) {
  // LE dynamic PSMs; the fixed ones below belong to Bluetooth's own services.
  return psm >= 0x80 && psm <= 0xff;
}

} // namespace

void read_lan(table_reader r, lan_config& lan) {
  constexpr auto address = "an IPv4 address in dotted-quad form";
  r.boolean("enabled", lan.enabled);
  r.text("group", lan.group, false, address, valid_ipv4);
  r.integer("discovery_port", lan.discovery_port, 1, 65535);
  r.text("interface_address", lan.interface_address, false, address, valid_ipv4);
  r.integer("session_port", lan.session_port, 0, 65535);
  r.list("static_peers", lan.static_peers, false, "an array of \"IPv4:port\" strings",
         "\"IPv4:port\" with a port from 1 to 65535", valid_endpoint);
  r.integer("multicast_ttl", lan.multicast_ttl, 0, 255);
  r.finish();
}

void read_icmb(table_reader r, icmb_config& icmb) {
  r.boolean("enabled", icmb.enabled);
  r.path("device", icmb.device, icmb.enabled);
  r.integer("baud", icmb.baud, 1200, 4000000, "a standard serial rate (1200, 9600, 19200, 115200, ...)",
            standard_baud);
  r.integer("address", icmb.address, 1, 0xfffe, "a bus address from 1 to 0xfffe");
  if (icmb.enabled && !r.has("address"))
    r.find("address", true);
  r.integer("frame_payload", icmb.frame_payload, 0, 4096,
            "0 (the transport's default) or payload bytes per bus frame, 16 to 4096",
            [](int64_t v) { return v == 0 || v >= 16; });
  r.finish();
}

void read_ble(table_reader r, ble_config& ble) {
  constexpr auto address = "a Bluetooth address such as \"AA:BB:CC:DD:EE:FF\"";
  r.boolean("enabled", ble.enabled);
  r.text("address", ble.address, false, address, valid_bdaddr_or_empty);
  r.integer("psm", ble.psm, 0x80, 0xff, "an LE dynamic PSM from 0x80 to 0xff", valid_psm);
  r.list("peers", ble.peers, false, "an array of Bluetooth addresses", address, valid_bdaddr);
  r.integer("mtu", ble.mtu, 23, 65535);
  r.path("emulation", ble.emulation, false, true);
  r.integer("emulated_rate_kbps", ble.emulated_rate_kbps, 1, 100000);
  r.integer("emulated_credits", ble.emulated_credits, 1, 1000);
  if (ble.enabled && !ble.emulation.empty() && ble.address.empty())
    r.find("address", true);
  r.finish();
}

} // namespace fwrescue::config_detail
