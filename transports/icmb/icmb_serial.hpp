#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "common/unique_fd.hpp"

namespace fwrescue::icmb {

/// Opens `device` as the bus port: raw 8N1, CLOCAL|CREAD, VMIN=VTIME=0, non-blocking, at
/// `baud`, with RS-485 direction control (TIOCSRS485, RTS on send) where the driver has it;
/// where it does not (a pseudo-terminal, a plain UART wired to an auto-direction transceiver)
/// `warn` hears it once and the port is used as it is. Errors are one line prefixed by `who`:
/// "icmb: cannot open /dev/x: No such file or directory", "icmb: /tmp/f is not a serial
/// device", "icmb: baud 12345 is not a rate the serial driver knows".
caf::expected<unique_fd> open_serial(const std::string& who, const std::string& device,
                                     uint32_t baud,
                                     const std::function<void(std::string_view)>& warn);

/// Whether termios has a speed constant for `baud`.
bool known_baud(uint32_t baud);

} // namespace fwrescue::icmb
