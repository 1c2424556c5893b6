#include "transports/icmb/icmb_transport.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace fwrescue {

namespace {

std::string who_of(const icmb_options& options) {
  return options.node_label.empty() ? std::string{"icmb"}
                                    : fmt::format("icmb ({})", options.node_label);
}

caf::expected<icmb::io_config> make_config(const icmb_options& options) {
  icmb::io_config config;
  config.who = who_of(options);
  auto bad = [&](std::string what) {
    return make_error(errc::invalid_argument, fmt::format("{}: {}", config.who, what));
  };
  if (options.device.empty())
    return bad("no device: name the serial port of the bus");
  if (options.address == 0 || options.address == icmb::broadcast_address)
    return bad(fmt::format("address {} is not a node address: use 0x0001 to 0xfffe",
                           icmb::format_address(options.address)));
  if (options.max_payload < 16 || options.max_payload > icmb::max_wire_payload)
    return bad(
      fmt::format("max payload {} is outside 16..{}", options.max_payload, icmb::max_wire_payload));
  if (options.baud == 0)
    return bad("baud 0 is not a rate");
  config.device = options.device;
  config.baud = options.baud;
  config.address = options.address;
  config.max_payload = options.max_payload;
  config.limits = options.limits;
  config.warn = options.warn;
  config.times = icmb::make_timing(options.baud, options.max_payload);
  return config;
}

} // namespace

icmb_transport::icmb_transport(icmb_options options) : options_(std::move(options)) {
}

icmb_transport::~icmb_transport() {
  stop();
}

link_properties icmb_transport::properties() const {
  link_properties props;
  props.kind = "icmb";
  props.max_datagram = icmb::max_datagram;
  props.max_frame = icmb::max_frame;
  props.nominal_rate_bps = options_.baud;
  auto t = icmb::make_timing(options_.baud, options_.max_payload);
  auto one =
    t.byte_time * static_cast<int64_t>(options_.max_payload + icmb::frame_overhead) + t.data_gap;
  props.latency_us =
    static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(one).count());
  return props;
}

caf::error icmb_transport::start(transport_events& events) {
  std::lock_guard<std::mutex> lifecycle{lifecycle_mutex_};
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (io_ && !io_->stop_requested())
      return make_error(errc::invalid_argument, who_of(options_) + ": already started");
  }
  reap();
  auto config = make_config(options_);
  if (!config)
    return std::move(config.error());
  auto loop = icmb::io_loop::open(std::move(*config), events, next_id_, dropped_);
  if (!loop)
    return std::move(loop.error());
  auto* raw = loop->get();
  {
    std::lock_guard<std::mutex> guard{mutex_};
    io_ = std::move(*loop);
  }
  thread_ = std::thread{[this, raw] {
    io_thread_id_.store(std::this_thread::get_id());
    raw->run();
  }};
  return {};
}

void icmb_transport::stop() {
  if (io_thread_id_.load() == std::this_thread::get_id()) {
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

void icmb_transport::reap() {
  if (thread_.joinable())
    thread_.join();
  io_thread_id_.store(std::thread::id{});
  std::unique_ptr<icmb::io_loop> loop;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    loop = std::move(io_);
  }
}

template <class Fn>
bool icmb_transport::with_loop(Fn&& fn) const {
  std::lock_guard<std::mutex> guard{mutex_};
  if (!io_ || io_->stop_requested())
    return false;
  fn(*io_);
  return true;
}

std::string icmb_transport::session_address() const {
  std::string out;
  with_loop([&](icmb::io_loop&) { out = icmb::format_address(options_.address); });
  return out;
}

void icmb_transport::broadcast(std::vector<uint8_t> datagram) {
  send_datagram(icmb::format_address(icmb::broadcast_address), std::move(datagram));
}

void icmb_transport::send_datagram(const std::string& to, std::vector<uint8_t> datagram) {
  auto address = icmb::parse_address(to);
  bool sent = false;
  if (address && *address != 0 && datagram.size() <= icmb::max_datagram)
    sent = with_loop([&](icmb::io_loop& loop) {
      loop.post(icmb::datagram_command{*address, std::move(datagram)});
    });
  if (!sent)
    ++dropped_;
}

session_id icmb_transport::open_session(const std::string& address) {
  auto id = next_id_.fetch_add(1);
  with_loop([&](icmb::io_loop& loop) { loop.open_session(id, address); });
  return id;
}

void icmb_transport::send_frame(session_id id, std::vector<uint8_t> frame) {
  with_loop([&](icmb::io_loop& loop) { loop.send_frame(id, std::move(frame)); });
}

size_t icmb_transport::queued(session_id id) const {
  size_t n = 0;
  with_loop([&](icmb::io_loop& loop) { n = loop.queued(id); });
  return n;
}

void icmb_transport::frame_consumed(session_id id, size_t bytes) {
  with_loop([&](icmb::io_loop& loop) { loop.frame_consumed(id, bytes); });
}

void icmb_transport::datagram_consumed() {
  with_loop([](icmb::io_loop& loop) { loop.datagram_consumed(); });
}

void icmb_transport::close_session(session_id id) {
  with_loop([&](icmb::io_loop& loop) { loop.post(icmb::close_command{id}); });
}

transport_counters icmb_transport::counters() const {
  uint64_t refused = 0;
  with_loop([&](icmb::io_loop& loop) { refused = loop.refused_sessions(); });
  return {dropped_.load(), refused};
}

icmb::bus_stats icmb_transport::stats() const {
  icmb::bus_stats out;
  with_loop([&](icmb::io_loop& loop) { out = loop.stats(); });
  return out;
}

} // namespace fwrescue
