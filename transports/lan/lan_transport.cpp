#include "transports/lan/lan_transport.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "transports/lan/lan_io.hpp"

namespace fwrescue {

namespace {

caf::error option_error(const std::string& who, const std::string& what) {
  return make_error(errc::invalid_argument, fmt::format("{}: {}", who, what));
}

/// Prefix of this node's error messages.
std::string who_of(const lan_options& options) {
  return options.node_label.empty() ? std::string{"lan"}
                                    : fmt::format("lan ({})", options.node_label);
}

/// Checks the options and turns them into the loop's settings.
caf::expected<lan::io_config> make_config(const lan_options& options) {
  lan::io_config config;
  config.who = who_of(options);
  const auto& who = config.who;
  auto group = lan::parse_ipv4(options.group, "multicast group");
  if (!group)
    return option_error(who, describe(group.error()));
  if (options.discovery_port == 0)
    return option_error(who, "discovery port 0 is not a port: use 1..65535");
  config.group.sin_family = AF_INET;
  config.group.sin_addr = *group;
  config.group.sin_port = htons(options.discovery_port);
  auto interface = lan::parse_ipv4(options.interface_address, "interface address");
  if (!interface)
    return option_error(who, describe(interface.error()));
  // Peers connect to session_address(), which must be one reachable address.
  if (interface->s_addr == htonl(INADDR_ANY))
    return option_error(who, "interface address 0.0.0.0 is not one interface: use the IPv4 "
                             "address of the interface to serve on");
  config.interface = *interface;
  config.session_port = options.session_port;
  if (options.multicast_ttl < 0 || options.multicast_ttl > 255)
    return option_error(who,
                        fmt::format("multicast TTL {} is outside 0..255", options.multicast_ttl));
  config.ttl = options.multicast_ttl;
  config.limits = options.limits;
  for (const auto& peer : options.static_peers) {
    auto address = lan::parse_endpoint(peer);
    if (!address)
      return option_error(who, "static peer: " + describe(address.error()));
    config.static_peers.push_back(*address);
  }
  return config;
}

} // namespace

lan_transport::lan_transport(lan_options options) : options_(std::move(options)) {
}

lan_transport::~lan_transport() {
  stop();
}

link_properties lan_transport::properties() const {
  link_properties props;
  props.kind = "lan";
  props.max_datagram = lan::max_datagram;
  props.max_frame = lan::max_frame;
  props.nominal_rate_bps = 1'000'000'000;
  props.latency_us = 100;
  return props;
}

caf::error lan_transport::start(transport_events& events) {
  std::lock_guard<std::mutex> lifecycle{lifecycle_mutex_};
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (io_ && !io_->stop_requested())
      return option_error(who_of(options_), "already started");
  }
  reap();
  auto config = make_config(options_);
  if (!config)
    return std::move(config.error());
  auto loop = lan::io_loop::open(std::move(*config), events, next_id_, dropped_);
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

void lan_transport::stop() {
  if (io_thread_id_.load() == std::this_thread::get_id()) {
    // Joining here would wait for ourselves: only stop the loop; whoever calls stop() or the
    // destructor next from another thread joins it.
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

void lan_transport::reap() {
  if (thread_.joinable())
    thread_.join();
  io_thread_id_.store(std::thread::id{});
  std::unique_ptr<lan::io_loop> loop;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    loop = std::move(io_);
  }
  // `loop` closes every socket as it goes out of scope, after the thread has ended.
}

std::string lan_transport::session_address() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return io_ && !io_->stop_requested() ? io_->session_address() : std::string{};
}

template <class Fn>
bool lan_transport::with_loop(Fn&& fn) const {
  std::lock_guard<std::mutex> guard{mutex_};
  if (!io_ || io_->stop_requested())
    return false;
  fn(*io_);
  return true;
}

template <class Command>
bool lan_transport::post(Command cmd) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (!io_ || io_->stop_requested())
    return false;
  io_->post(std::move(cmd));
  return true;
}

void lan_transport::broadcast(std::vector<uint8_t> datagram) {
  if (datagram.size() > lan::max_datagram || !post(lan::broadcast_command{std::move(datagram)}))
    ++dropped_;
}

void lan_transport::send_datagram(const std::string& to, std::vector<uint8_t> datagram) {
  if (datagram.size() > lan::max_datagram || !post(lan::datagram_command{to, std::move(datagram)}))
    ++dropped_;
}

session_id lan_transport::open_session(const std::string& address) {
  auto id = next_id_.fetch_add(1);
  with_loop([&](lan::io_loop& loop) { loop.open_session(id, address); });
  return id;
}

void lan_transport::send_frame(session_id id, std::vector<uint8_t> frame) {
  with_loop([&](lan::io_loop& loop) { loop.send_frame(id, std::move(frame)); });
}

size_t lan_transport::queued(session_id id) const {
  size_t n = 0;
  with_loop([&](lan::io_loop& loop) { n = loop.queued(id); });
  return n;
}

void lan_transport::frame_consumed(session_id id, size_t bytes) {
  with_loop([&](lan::io_loop& loop) { loop.frame_consumed(id, bytes); });
}

void lan_transport::datagram_consumed() {
  with_loop([](lan::io_loop& loop) { loop.datagram_consumed(); });
}

transport_counters lan_transport::counters() const {
  return {dropped_datagrams(), refused_sessions()};
}

uint64_t lan_transport::refused_sessions() const {
  uint64_t n = 0;
  with_loop([&](lan::io_loop& loop) { n = loop.refused_sessions(); });
  return n;
}

void lan_transport::close_session(session_id id) {
  post(lan::close_command{id});
}

} // namespace fwrescue
