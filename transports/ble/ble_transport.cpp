#include "transports/ble/ble_transport.hpp"

#include <sys/eventfd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "transports/ble/ble_emulated.hpp"
#include "transports/ble/ble_io.hpp"
#include "transports/ble/ble_l2cap.hpp"
#include "transports/lan/lan_socket.hpp"

namespace fwrescue {

namespace {

caf::error option_error(const std::string& who, const std::string& what) {
  return make_error(errc::invalid_argument, fmt::format("{}: {}", who, what));
}

std::string who_of(const ble_options& options) {
  return options.node_label.empty() ? std::string{"ble"}
                                    : fmt::format("ble ({})", options.node_label);
}

/// Checks the options and opens the adapter they name.
caf::expected<std::unique_ptr<ble::adapter>> open_adapter(const ble_options& options,
                                                          ble::io_config& config) {
  const auto& who = config.who;
  std::optional<ble::device_address> self;
  if (!options.address.empty()) {
    auto a = ble::parse_address(options.address, "adapter address");
    if (!a)
      return option_error(who, describe(a.error()));
    self = *a;
  }
  for (const auto& peer : options.peers) {
    auto a = ble::parse_address(peer, "peer address");
    if (!a)
      return option_error(who, describe(a.error()));
    config.peers.push_back(*a);
  }
  if (options.psm < 0x0080 || options.psm > 0x00ff)
    return option_error(who, fmt::format("PSM 0x{:04X} is outside the LE dynamic range "
                                         "0x0080..0x00FF",
                                         options.psm));
  if (options.mtu < ble::min_mtu)
    return option_error(
      who, fmt::format("MTU {} is below the LE minimum of {}", options.mtu, ble::min_mtu));
  if (options.emulation.empty()) {
    auto a = ble::l2cap_adapter::open({self, options.psm, options.mtu}, who);
    if (!a)
      return std::move(a.error());
    return std::unique_ptr<ble::adapter>{std::move(*a)};
  }
  if (!self)
    return option_error(who, "an emulated node needs its own address: it names its socket");
  if (options.emulated_rate_bps == 0)
    return option_error(who, "emulated rate 0 is not a rate");
  if (options.emulated_credits == 0)
    return option_error(who, "0 emulated credits would let no SDU through");
  ble::emulation_config emulation{options.emulation, *self, options.mtu, options.emulated_credits,
                                  options.emulated_rate_bps};
  auto a = ble::emulated_adapter::open(std::move(emulation), who);
  if (!a)
    return std::move(a.error());
  return std::unique_ptr<ble::adapter>{std::move(*a)};
}

} // namespace

ble_transport::ble_transport(ble_options options) : options_(std::move(options)) {
}

ble_transport::~ble_transport() {
  stop();
}

link_properties ble_transport::properties() const {
  link_properties props;
  props.kind = "ble";
  props.max_datagram = ble::max_datagram;
  props.max_frame = ble::max_frame;
  props.nominal_rate_bps = options_.emulation.empty() ? 500000 : options_.emulated_rate_bps;
  // A connection event every 7.5..30 ms: an SDU waits for the next one.
  props.latency_us = 15000;
  return props;
}

caf::error ble_transport::start(transport_events& events) {
  std::lock_guard<std::mutex> lifecycle{lifecycle_mutex_};
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (io_ && !io_->stop_requested())
      return option_error(who_of(options_), "already started");
  }
  reap();
  ble::io_config config;
  config.who = who_of(options_);
  config.limits = options_.limits;
  auto adapter = open_adapter(options_, config);
  if (!adapter)
    return std::move(adapter.error());
  unique_fd wakeup{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
  if (wakeup.get() < 0)
    return make_error(errc::io_failure, fmt::format("{}: cannot make an eventfd: {}", config.who,
                                                    lan::errno_text(errno)));
  auto loop = std::make_unique<ble::io_loop>(std::move(config), std::move(*adapter), events,
                                             next_id_, dropped_, std::move(wakeup));
  auto* raw = loop.get();
  {
    std::lock_guard<std::mutex> guard{mutex_};
    io_ = std::move(loop);
  }
  thread_ = std::thread{[this, raw] {
    io_thread_id_.store(std::this_thread::get_id());
    raw->run();
  }};
  return {};
}

void ble_transport::stop() {
  if (io_thread_id_.load() == std::this_thread::get_id()) {
    // Joining here would wait for ourselves: only stop the loop.
    std::lock_guard<std::mutex> guard{mutex_};
    if (io_)
      io_->request_stop();
    return;
  }
  std::lock_guard<std::mutex> lifecycle{lifecycle_mutex_};
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (io_)
      io_->request_stop();
  }
  reap();
}

void ble_transport::reap() {
  if (thread_.joinable())
    thread_.join();
  io_thread_id_.store(std::thread::id{});
  std::unique_ptr<ble::io_loop> loop;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    loop = std::move(io_);
  }
}

std::string ble_transport::session_address() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return io_ && !io_->stop_requested() ? io_->session_address() : std::string{};
}

template <class Fn>
bool ble_transport::with_loop(Fn&& fn) const {
  std::lock_guard<std::mutex> guard{mutex_};
  if (!io_ || io_->stop_requested())
    return false;
  fn(*io_);
  return true;
}

void ble_transport::broadcast(std::vector<uint8_t> datagram) {
  if (datagram.size() > ble::max_datagram
      || !with_loop([&](ble::io_loop& l) { l.post(ble::broadcast_command{std::move(datagram)}); }))
    ++dropped_;
}

void ble_transport::send_datagram(const std::string& to, std::vector<uint8_t> datagram) {
  if (datagram.size() > ble::max_datagram || !with_loop([&](ble::io_loop& l) {
        l.post(ble::datagram_command{to, std::move(datagram)});
      }))
    ++dropped_;
}

session_id ble_transport::open_session(const std::string& address) {
  auto id = next_id_.fetch_add(1);
  with_loop([&](ble::io_loop& l) { l.open_session(id, address); });
  return id;
}

void ble_transport::send_frame(session_id id, std::vector<uint8_t> frame) {
  with_loop([&](ble::io_loop& l) { l.send_frame(id, std::move(frame)); });
}

size_t ble_transport::queued(session_id id) const {
  size_t n = 0;
  with_loop([&](ble::io_loop& l) { n = l.queued(id); });
  return n;
}

void ble_transport::frame_consumed(session_id id, size_t bytes) {
  with_loop([&](ble::io_loop& l) { l.frame_consumed(id, bytes); });
}

void ble_transport::datagram_consumed() {
  with_loop([](ble::io_loop& l) { l.datagram_consumed(); });
}

transport_counters ble_transport::counters() const {
  uint64_t refused = 0;
  with_loop([&](ble::io_loop& l) { refused = l.refused_sessions(); });
  return {dropped_.load(), refused};
}

void ble_transport::close_session(session_id id) {
  with_loop([&](ble::io_loop& l) { l.post(ble::close_command{id}); });
}

} // namespace fwrescue
