#include "transports/ble/ble_emulated.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "transports/lan/lan_socket.hpp"

namespace fwrescue::ble {

namespace {

using lan::errno_text;

/// Packets on the emulation's socket; the first byte says which.
enum packet : uint8_t {
  /// Opener to listener: its address (6, written order), its receive MTU and the credits it
  /// grants (2 each, little-endian), as an LE credit-based connection request carries them.
  connect_request = 1,
  /// Listener to opener: its receive MTU and the credits it grants.
  connect_response = 2,
  /// One SDU.
  data = 3,
  /// Credits given back (2 bytes, little-endian).
  credit = 4,
};

constexpr size_t max_credits = 65535;

/// Airtime a late timer may make good (about one 247-byte SDU at 1 Mbit/s).
constexpr auto catch_up = std::chrono::milliseconds{2};

void put16(std::vector<uint8_t>& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}

size_t get16(const uint8_t* p) {
  return p[0] | size_t{p[1]} << 8;
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

class emulated_channel : public channel {
public:
  emulated_channel(unique_fd fd, const emulation_config& config, std::shared_ptr<airtime> air,
                   std::optional<device_address> peer)
    : fd_(std::move(fd)), own_mtu_(config.mtu), granted_(config.credits), air_(std::move(air)),
      inbound_(!peer), peer_credits_(config.credits), in_(config.mtu + 1) {
    if (peer)
      peer_ = *peer;
  }

  /// Sends the connection request of an opener; the socket is empty, so it fits.
  caf::error request(const device_address& self) {
    std::vector<uint8_t> p{connect_request};
    p.insert(p.end(), self.bytes.begin(), self.bytes.end());
    put16(p, own_mtu_);
    put16(p, granted_);
    if (!put(p))
      return make_error(errc::io_failure,
                        fmt::format("connect to {}: {}", to_string(peer_), errno_text(errno)));
    return {};
  }

  int fd() const override {
    return fd_.get();
  }

  short poll_events(bool want_read, bool want_write) const override {
    if (!open_)
      return POLLIN;
    bool starved = want_write && credits_ == 0;
    short ev = (want_read || starved) ? POLLIN : 0;
    // Credits owed go out as soon as the socket takes them; the rate's timer is the loop's.
    if ((want_write && credits_ > 0 && !rate_holds()) || owed_ > 0)
      ev |= POLLOUT;
    return ev;
  }

  caf::expected<bool> progress() override {
    if (open_)
      return true;
    auto n = ::recv(fd_.get(), in_.data(), in_.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return false;
    auto who =
      inbound_ ? std::string{"channel set-up"} : fmt::format("connect to {}", to_string(peer_));
    if (n <= 0)
      return make_error(errc::io_failure,
                        fmt::format("{}: {}", who, n == 0 ? "closed by peer" : errno_text(errno)));
    const auto* p = in_.data();
    if (inbound_ && n == 11 && p[0] == connect_request) {
      std::copy(p + 1, p + 7, peer_.bytes.begin());
      peer_mtu_ = get16(p + 7);
      credits_ = get16(p + 9);
      std::vector<uint8_t> reply{connect_response};
      put16(reply, own_mtu_);
      put16(reply, granted_);
      if (!put(reply))
        return make_error(errc::io_failure, fmt::format("{}: {}", who, errno_text(errno)));
    } else if (!inbound_ && n == 5 && p[0] == connect_response) {
      peer_mtu_ = get16(p + 1);
      credits_ = get16(p + 3);
    } else {
      return make_error(errc::malformed, fmt::format("{}: not an emulated channel set-up", who));
    }
    if (peer_mtu_ < 23)
      return make_error(errc::malformed, fmt::format("{}: peer's MTU {} is below the minimum of 23",
                                                     who, peer_mtu_));
    open_ = true;
    return true;
  }

  device_address peer() const override {
    return peer_;
  }

  size_t send_mtu() const override {
    return peer_mtu_;
  }

  io_status send(std::span<const uint8_t> sdu, std::string& reason) override {
    if (auto s = return_credits(reason); s != io_status::done)
      return s;
    if (sdu.size() > peer_mtu_) {
      // The kernel refuses such a send with EMSGSIZE.
      reason = fmt::format("SDU of {} bytes exceeds the peer's MTU of {}", sdu.size(), peer_mtu_);
      return io_status::failed;
    }
    if (credits_ == 0) {
      // The peer's credits may be waiting behind SDUs the transport has not asked for yet.
      if (auto s = pump(reason); s != io_status::done)
        return s;
      if (credits_ == 0)
        return io_status::blocked;
    }
    auto now = clock::now();
    if (!ready_at_) {
      // The SDU is on the air from when the radio is free, and leaves when its airtime is over.
      // A timer that fires late does not lose the radio's time: up to catch_up of it is made
      // good, so the long-run rate is the configured one, never above it.
      auto start = std::max(now - catch_up, air_->busy_until);
      auto bits = airtime_bytes(sdu.size()) * 8;
      ready_at_ = start + std::chrono::nanoseconds{bits * 1'000'000'000 / air_->rate_bps};
      air_->busy_until = *ready_at_;
    }
    if (now < *ready_at_)
      return io_status::blocked;
    out_.assign(1, data);
    out_.insert(out_.end(), sdu.begin(), sdu.end());
    if (!put(out_)) {
      if (errno == EAGAIN)
        return io_status::blocked;
      reason = errno == EPIPE || errno == ECONNRESET ? "closed by peer" : errno_text(errno);
      return errno == EPIPE || errno == ECONNRESET ? io_status::closed : io_status::failed;
    }
    ready_at_.reset();
    --credits_;
    return io_status::done;
  }

  io_status receive(std::vector<uint8_t>& sdu, std::string& reason) override {
    if (rx_.empty())
      if (auto s = pump(reason); s != io_status::done)
        return s;
    if (rx_.empty())
      return io_status::blocked;
    sdu = std::move(rx_.front());
    rx_.pop_front();
    // The transport has read it: the peer may send one more.
    ++owed_;
    if (auto s = return_credits(reason); s == io_status::closed || s == io_status::failed)
      return s;
    return io_status::done;
  }

  bool buffered() const override {
    return !rx_.empty();
  }

  std::optional<clock::time_point> wake_at() const override {
    return ready_at_;
  }

private:
  bool rate_holds() const {
    return ready_at_ && clock::now() < *ready_at_;
  }

  bool put(const std::vector<uint8_t>& p) {
    ssize_t n = 0;
    do
      n = ::send(fd_.get(), p.data(), p.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(p.size());
  }

  io_status return_credits(std::string& reason) {
    if (owed_ == 0)
      return io_status::done;
    std::vector<uint8_t> p{credit};
    put16(p, owed_);
    if (put(p)) {
      peer_credits_ += owed_;
      owed_ = 0;
      return io_status::done;
    }
    if (errno == EAGAIN)
      return io_status::done; // Sent when the socket has room; poll_events asks for it.
    reason = errno == EPIPE || errno == ECONNRESET ? "closed by peer" : errno_text(errno);
    return errno == EPIPE || errno == ECONNRESET ? io_status::closed : io_status::failed;
  }

  /// Reads what the socket holds: credits are taken, SDUs queued for receive(). A peer can
  /// only have as many SDUs in flight as it has credits, so the queue is bounded by them.
  io_status pump(std::string& reason) {
    for (;;) {
      auto n = ::recv(fd_.get(), in_.data(), in_.size(), MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return io_status::done;
      if (n == 0 || (n < 0 && errno == ECONNRESET)) {
        if (!rx_.empty())
          return io_status::done; // What arrived before the close is still read.
        reason = "closed by peer";
        return io_status::closed;
      }
      if (n < 0) {
        reason = errno_text(errno);
        return io_status::failed;
      }
      const auto* p = in_.data();
      if (p[0] == credit && n == 3) {
        credits_ += get16(p + 1);
        if (credits_ > max_credits) {
          reason = "peer gave more than 65535 credits";
          return io_status::failed;
        }
        continue;
      }
      if (p[0] != data) {
        reason = "unknown packet on the emulated channel";
        return io_status::failed;
      }
      if (static_cast<size_t>(n) - 1 > own_mtu_) {
        reason = fmt::format("peer sent an SDU above our MTU of {}", own_mtu_);
        return io_status::failed;
      }
      if (peer_credits_ == 0) {
        reason = "peer sent an SDU without a credit";
        return io_status::failed;
      }
      --peer_credits_;
      rx_.emplace_back(p + 1, p + n);
    }
  }

  unique_fd fd_;
  size_t own_mtu_;
  size_t granted_;
  std::shared_ptr<airtime> air_;
  bool inbound_;
  bool open_ = false;
  device_address peer_;
  size_t peer_mtu_ = 0;
  /// SDUs this end may still send.
  size_t credits_ = 0;
  /// SDUs the peer may still send, as this end counts them.
  size_t peer_credits_;
  /// SDUs read by the transport whose credits have not gone back yet.
  size_t owed_ = 0;
  /// When the SDU being sent has had its airtime.
  std::optional<clock::time_point> ready_at_;
  std::deque<std::vector<uint8_t>> rx_;
  std::vector<uint8_t> in_;
  std::vector<uint8_t> out_;
};

} // namespace

uint64_t airtime_bytes(size_t sdu) {
  constexpr size_t mps = 247;
  auto payload = sdu + 2;
  auto kframes = (payload + mps - 1) / mps;
  return payload + kframes * (4 + 10);
}

std::string socket_path(const std::string& directory, const device_address& address) {
  return directory + "/" + to_string(address) + ".sock";
}

emulated_adapter::emulated_adapter(emulation_config config)
  : config_(std::move(config)), air_(std::make_shared<airtime>()) {
  air_->rate_bps = config_.rate_bps;
}

emulated_adapter::~emulated_adapter() {
  if (listener_.get() >= 0)
    ::unlink(path_.c_str());
}

caf::expected<std::unique_ptr<emulated_adapter>> emulated_adapter::open(emulation_config config,
                                                                        const std::string& who) {
  std::unique_ptr<emulated_adapter> a{new emulated_adapter(std::move(config))};
  a->path_ = socket_path(a->config_.directory, a->config_.address);
  auto fail = [&](const std::string& what, int err) {
    return make_error(errc::io_failure,
                      fmt::format("{}: {} {}: {}", who, what, a->path_, errno_text(err)));
  };
  if (a->path_.size() >= sizeof(sockaddr_un::sun_path))
    return make_error(errc::invalid_argument,
                      fmt::format("{}: emulation socket path {} is longer than {} bytes", who,
                                  a->path_, sizeof(sockaddr_un::sun_path) - 1));
  auto addr = unix_address(a->path_);
  unique_fd fd{::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    return fail("cannot open", errno);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EADDRINUSE)
      return fail("cannot bind", errno);
    // A socket file left by a node that died: replace it, unless a node still listens there.
    unique_fd probe{::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)};
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
      return make_error(errc::already_exists,
                        fmt::format("{}: another node listens on {}", who, a->path_));
    ::unlink(a->path_.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      return fail("cannot bind", errno);
  }
  if (::listen(fd.get(), 64) != 0)
    return fail("cannot listen on", errno);
  a->listener_ = std::move(fd);
  return a;
}

caf::expected<std::unique_ptr<channel>> emulated_adapter::accept() {
  unique_fd fd{::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
  if (fd.get() < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
      return std::unique_ptr<channel>{};
    return make_error(errc::io_failure, "accept: " + errno_text(errno));
  }
  return std::unique_ptr<channel>{
    std::make_unique<emulated_channel>(std::move(fd), config_, air_, std::nullopt)};
}

caf::expected<std::unique_ptr<channel>> emulated_adapter::connect(const device_address& peer) {
  auto path = socket_path(config_.directory, peer);
  auto fail = [&](const std::string& what) {
    return make_error(errc::io_failure, fmt::format("connect to {}: {}", to_string(peer), what));
  };
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    return fail("emulation socket path is too long");
  unique_fd fd{::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    return fail(errno_text(errno));
  auto addr = unix_address(path);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    auto err = errno;
    if (err == ENOENT || err == ECONNREFUSED)
      return fail(fmt::format("no node listens there ({}: {})", path, errno_text(err)));
    return fail(errno_text(err));
  }
  auto c = std::make_unique<emulated_channel>(std::move(fd), config_, air_, peer);
  if (auto err = c->request(config_.address))
    return err;
  return std::unique_ptr<channel>{std::move(c)};
}

} // namespace fwrescue::ble
