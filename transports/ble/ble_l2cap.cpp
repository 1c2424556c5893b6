#include "transports/ble/ble_l2cap.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bluetooth/bluetooth.h>
#include <bluetooth/l2cap.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "transports/lan/lan_socket.hpp"

namespace fwrescue::ble {

namespace {

using lan::errno_text;

sockaddr_l2 le_address(const device_address& address, uint16_t psm) {
  sockaddr_l2 addr{};
  addr.l2_family = AF_BLUETOOTH;
  addr.l2_psm = htobs(psm);
  auto b = to_bdaddr(address);
  std::memcpy(&addr.l2_bdaddr, b.data(), b.size());
  addr.l2_bdaddr_type = BDADDR_LE_PUBLIC;
  return addr;
}

caf::expected<unique_fd> open_socket(const std::string& who) {
  unique_fd fd{
    ::socket(AF_BLUETOOTH, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, BTPROTO_L2CAP)};
  if (fd.get() >= 0)
    return fd;
  auto err = errno;
  if (err == EAFNOSUPPORT)
    return make_error(
      errc::io_failure,
      fmt::format("{}: this kernel has no Bluetooth support (socket: {})", who, errno_text(err)));
  return make_error(errc::io_failure,
                    fmt::format("{}: cannot open an L2CAP socket: {}", who, errno_text(err)));
}

/// The options every channel gets once bound (the kernel takes BT_RCVMTU only from a socket
/// bound to an LE address) and before it listens or connects: the security level (docs/ble.md
/// says why it is "low") and the MTU asked for. Both options are read by the kernel as the
/// types below, a u16 for the MTU.
caf::error prepare(int fd, uint16_t mtu, const std::string& who) {
  bt_security security{};
  security.level = BT_SECURITY_LOW;
  if (::setsockopt(fd, SOL_BLUETOOTH, BT_SECURITY, &security, sizeof(security)) != 0)
    return make_error(errc::io_failure,
                      fmt::format("{}: cannot set BT_SECURITY: {}", who, errno_text(errno)));
  if (::setsockopt(fd, SOL_BLUETOOTH, BT_RCVMTU, &mtu, sizeof(mtu)) != 0)
    return make_error(errc::io_failure, fmt::format("{}: cannot set BT_RCVMTU to {}: {}", who, mtu,
                                                    errno_text(errno)));
  return {};
}

class l2cap_channel : public channel {
public:
  l2cap_channel(unique_fd fd, device_address peer, bool connecting)
    : fd_(std::move(fd)), peer_(peer), connecting_(connecting), buffer_(65536) {
  }

  int fd() const override {
    return fd_.get();
  }

  short poll_events(bool want_read, bool want_write) const override {
    // An accepted channel is writable at once: progress() then reads its MTU.
    if (connecting_ || send_mtu_ == 0)
      return POLLOUT;
    return static_cast<short>((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0));
  }

  caf::expected<bool> progress() override {
    auto who = fmt::format("connect to {}", to_string(peer_));
    if (connecting_) {
      int err = 0;
      socklen_t len = sizeof(err);
      if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
      if (err == EINPROGRESS || err == EAGAIN)
        return false;
      if (err != 0)
        return make_error(errc::io_failure, fmt::format("{}: {}", who, errno_text(err)));
      connecting_ = false;
    }
    // The peer's MTU is known once the channel is up; SDUs are cut to it.
    uint16_t mtu = 0;
    socklen_t len = sizeof(mtu);
    if (::getsockopt(fd_.get(), SOL_BLUETOOTH, BT_SNDMTU, &mtu, &len) != 0)
      return make_error(errc::io_failure,
                        fmt::format("{}: cannot read BT_SNDMTU: {}", who, errno_text(errno)));
    send_mtu_ = static_cast<size_t>(mtu);
    return true;
  }

  device_address peer() const override {
    return peer_;
  }

  size_t send_mtu() const override {
    return send_mtu_;
  }

  io_status send(std::span<const uint8_t> sdu, std::string& reason) override {
    ssize_t n = 0;
    do
      n = ::send(fd_.get(), sdu.data(), sdu.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
      return io_status::done;
    return failure(reason);
  }

  io_status receive(std::vector<uint8_t>& sdu, std::string& reason) override {
    ssize_t n = 0;
    do
      n = ::recv(fd_.get(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
      reason = "closed by peer";
      return io_status::closed;
    }
    if (n < 0)
      return failure(reason);
    sdu.assign(buffer_.begin(), buffer_.begin() + n);
    return io_status::done;
  }

private:
  io_status failure(std::string& reason) {
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return io_status::blocked;
    reason = errno == ECONNRESET || errno == EPIPE ? "closed by peer" : errno_text(errno);
    return errno == ECONNRESET || errno == EPIPE ? io_status::closed : io_status::failed;
  }

  unique_fd fd_;
  device_address peer_;
  bool connecting_;
  size_t send_mtu_ = 0;
  /// Room for the largest SDU the kernel may hand us (the MTU is at most 65535).
  std::vector<uint8_t> buffer_;
};

} // namespace

caf::expected<std::unique_ptr<l2cap_adapter>> l2cap_adapter::open(l2cap_config config,
                                                                  const std::string& who) {
  std::unique_ptr<l2cap_adapter> a{new l2cap_adapter(config)};
  auto fd = open_socket(who);
  if (!fd)
    return std::move(fd.error());
  auto addr = le_address(config.address.value_or(device_address{}), config.psm);
  if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return make_error(errc::io_failure,
                      fmt::format("{}: cannot bind PSM 0x{:04X} on {}: {}", who, config.psm,
                                  config.address ? to_string(*config.address) : "any adapter",
                                  errno_text(errno)));
  // Accepted channels inherit the listener's MTU and security level.
  if (auto err = prepare(fd->get(), config.mtu, who))
    return err;
  if (::listen(fd->get(), 16) != 0)
    return make_error(errc::io_failure,
                      fmt::format("{}: cannot listen: {}", who, errno_text(errno)));
  sockaddr_l2 bound{};
  socklen_t len = sizeof(bound);
  if (::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&bound), &len) == 0)
    a->address_ = from_bdaddr(bound.l2_bdaddr.b);
  a->listener_ = std::move(*fd);
  return a;
}

caf::expected<std::unique_ptr<channel>> l2cap_adapter::accept() {
  sockaddr_l2 from{};
  socklen_t len = sizeof(from);
  unique_fd fd{::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&from), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC)};
  if (fd.get() < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
      return std::unique_ptr<channel>{};
    return make_error(errc::io_failure, "accept: " + errno_text(errno));
  }
  // progress() reads the peer's MTU once poll() reports the channel writable.
  return std::unique_ptr<channel>{
    std::make_unique<l2cap_channel>(std::move(fd), from_bdaddr(from.l2_bdaddr.b), false)};
}

caf::expected<std::unique_ptr<channel>> l2cap_adapter::connect(const device_address& peer) {
  auto who = fmt::format("connect to {}", to_string(peer));
  auto fd = open_socket(who);
  if (!fd)
    return std::move(fd.error());
  auto local = le_address(config_.address.value_or(device_address{}), 0);
  if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
    return make_error(errc::io_failure, fmt::format("{}: bind: {}", who, errno_text(errno)));
  if (auto err = prepare(fd->get(), config_.mtu, who))
    return err;
  auto remote = le_address(peer, config_.psm);
  auto rc = ::connect(fd->get(), reinterpret_cast<sockaddr*>(&remote), sizeof(remote));
  if (rc != 0 && errno != EINPROGRESS && errno != EAGAIN)
    return make_error(errc::io_failure, fmt::format("{}: {}", who, errno_text(errno)));
  return std::unique_ptr<channel>{std::make_unique<l2cap_channel>(std::move(*fd), peer, true)};
}

} // namespace fwrescue::ble
