#include "transports/icmb/icmb_serial.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/serial.h>
#include <optional>
#include <sys/ioctl.h>
#include <termios.h>

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue::icmb {

namespace {

struct baud_entry {
  uint32_t rate;
  speed_t code;
};

constexpr baud_entry baud_table[] = {
  {1200, B1200},       {2400, B2400},       {4800, B4800},       {9600, B9600},
  {19200, B19200},     {38400, B38400},     {57600, B57600},     {115200, B115200},
  {230400, B230400},   {460800, B460800},   {500000, B500000},   {576000, B576000},
  {921600, B921600},   {1000000, B1000000}, {1152000, B1152000}, {1500000, B1500000},
  {2000000, B2000000},
};

std::optional<speed_t> speed_code(uint32_t baud) {
  for (const auto& e : baud_table)
    if (e.rate == baud)
      return e.code;
  return std::nullopt;
}

caf::error io_error(const std::string& who, const std::string& what) {
  return make_error(errc::io_failure, fmt::format("{}: {}", who, what));
}

} // namespace

bool known_baud(uint32_t baud) {
  return speed_code(baud).has_value();
}

caf::expected<unique_fd> open_serial(const std::string& who, const std::string& device,
                                     uint32_t baud,
                                     const std::function<void(std::string_view)>& warn) {
  auto code = speed_code(baud);
  if (!code)
    return make_error(errc::invalid_argument,
                      fmt::format("{}: baud {} is not a rate the serial driver knows", who, baud));
  unique_fd fd{::open(device.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)};
  if (fd.get() < 0)
    return io_error(who, fmt::format("cannot open {}: {}", device, std::strerror(errno)));
  termios tio{};
  if (::tcgetattr(fd.get(), &tio) != 0) {
    if (errno == ENOTTY || errno == EINVAL)
      return io_error(who, fmt::format("{} is not a serial device", device));
    return io_error(
      who, fmt::format("cannot read the settings of {}: {}", device, std::strerror(errno)));
  }
  ::cfmakeraw(&tio);
  tio.c_cflag &= ~static_cast<tcflag_t>(CSTOPB | PARENB | CSIZE | CRTSCTS);
  tio.c_cflag |= CS8 | CLOCAL | CREAD;
  tio.c_cc[VMIN] = 0;
  tio.c_cc[VTIME] = 0;
  ::cfsetispeed(&tio, *code);
  ::cfsetospeed(&tio, *code);
  if (::tcsetattr(fd.get(), TCSANOW, &tio) != 0)
    return make_error(errc::invalid_argument, fmt::format("{}: {} refuses baud {}: {}", who, device,
                                                          baud, std::strerror(errno)));
  // tcsetattr() succeeds when the driver takes any of the settings; read them back.
  termios got{};
  if (::tcgetattr(fd.get(), &got) != 0 || ::cfgetospeed(&got) != *code)
    return make_error(errc::invalid_argument,
                      fmt::format("{}: {} refuses baud {}", who, device, baud));
  serial_rs485 rs485{};
  rs485.flags = SER_RS485_ENABLED | SER_RS485_RTS_ON_SEND;
  if (::ioctl(fd.get(), TIOCSRS485, &rs485) != 0 && warn)
    warn(fmt::format("{}: {} has no RS-485 direction control ({}); the transceiver must switch "
                     "direction by itself",
                     who, device, std::strerror(errno)));
  ::tcflush(fd.get(), TCIOFLUSH);
  return fd;
}

} // namespace fwrescue::icmb
