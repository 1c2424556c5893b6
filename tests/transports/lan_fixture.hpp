#pragma once

// Helpers of the LAN transport's tests: a recorder of events, a started node, raw sockets for
// the wire side, and waiting with deadlines. Every test runs on 127.0.0.1 with ports the kernel
// hands out, so parallel runs don't meet.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "common/error.hpp"
#include "tests/support/temp_dir.hpp"
#include "transports/lan/lan_stream.hpp"
#include "transports/lan/lan_transport.hpp"

namespace fwrescue::test::lan_tests {

using namespace fwrescue;
using namespace std::chrono_literals;

using bytes = std::vector<uint8_t>;

inline bytes text(const std::string& s) {
  return bytes(s.begin(), s.end());
}

/// Records a transport's events; the test thread waits on it with a deadline.
class recorder : public transport_events {
public:
  struct opened {
    session_id id;
    std::string peer;
    bool inbound;
  };

  struct log {
    std::vector<std::pair<std::string, bytes>> datagrams;
    std::vector<opened> opens;
    std::map<session_id, std::vector<bytes>> frames;
    std::vector<std::pair<session_id, std::string>> closes;
    std::vector<session_id> drained;

    std::vector<std::string> payloads() const {
      std::vector<std::string> out;
      for (const auto& d : datagrams)
        out.emplace_back(d.second.begin(), d.second.end());
      return out;
    }
    bool heard(const std::string& payload) const {
      for (const auto& p : payloads())
        if (p == payload)
          return true;
      return false;
    }
    const std::string* reason(session_id id) const {
      for (const auto& c : closes)
        if (c.first == id)
          return &c.second;
      return nullptr;
    }
    size_t event_count() const {
      size_t n = datagrams.size() + opens.size() + closes.size();
      for (const auto& f : frames)
        n += f.second.size();
      return n;
    }
  };

  /// When set, every datagram and frame is reported handled as soon as it is recorded.
  std::atomic<transport*> consumer{nullptr};

  void on_datagram(const std::string& from, bytes data) override {
    record([&](log& l) { l.datagrams.emplace_back(from, std::move(data)); });
    if (auto* c = consumer.load())
      c->datagram_consumed();
  }
  void on_session_opened(session_id id, const std::string& peer, bool inbound) override {
    record([&](log& l) { l.opens.push_back({id, peer, inbound}); });
  }
  void on_frame(session_id id, bytes frame) override {
    auto size = frame.size();
    record([&](log& l) { l.frames[id].push_back(std::move(frame)); });
    if (auto* c = consumer.load())
      c->frame_consumed(id, size);
  }
  void on_session_closed(session_id id, const std::string& reason) override {
    record([&](log& l) { l.closes.emplace_back(id, reason); });
  }
  void on_session_drained(session_id id) override {
    record([&](log& l) { l.drained.push_back(id); });
  }

  /// Waits until `pred(log)` holds; false after `limit`.
  template <class Pred>
  bool wait(Pred pred, std::chrono::seconds limit = 5s) {
    std::unique_lock<std::mutex> lock{mutex_};
    return cv_.wait_for(lock, limit, [&] { return pred(log_); });
  }

  /// Runs `fn(log)` under the lock and returns its result.
  template <class Fn>
  auto inspect(Fn fn) {
    std::lock_guard<std::mutex> lock{mutex_};
    return fn(log_);
  }

protected:
  template <class Fn>
  void record(Fn fn) {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      fn(log_);
    }
    cv_.notify_all();
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  log log_;
};

/// A port that was free a moment ago, from the kernel's ephemeral range.
inline uint16_t free_port(int type) {
  int fd = ::socket(AF_INET, type, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline lan_options options(uint16_t discovery_port, std::string group = "239.255.77.1") {
  lan_options o;
  o.group = std::move(group);
  o.discovery_port = discovery_port;
  o.interface_address = "127.0.0.1";
  // Sessions both ways carry frames of any size here; the smaller bound on frames peers send
  // to us has a test of its own.
  o.limits.max_inbound_frame = lan::max_frame;
  return o;
}

/// A started transport and its recorder; the recorder outlives the transport's stop().
struct node {
  explicit node(lan_options o, bool consume = true) : transport(std::move(o)) {
    if (consume)
      events.consumer = &transport;
    auto err = transport.start(events);
    INFO(describe(err));
    REQUIRE(!err);
  }
  recorder events;
  lan_transport transport;
};

/// A plain blocking socket; the raw side of wire-format tests.
struct raw_socket {
  raw_socket(int type) : fd(::socket(AF_INET, type, 0)) {
    REQUIRE(fd >= 0);
  }
  ~raw_socket() {
    ::close(fd);
  }
  /// Sends from `ip` (another loopback address stands for another host).
  void bind_to(const std::string& ip) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) == 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  /// Whether the peer has closed the connection (reads end of stream or a reset) within 5 s.
  bool closed_by_peer() {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint8_t buf[4096];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof(buf), 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET))
        return true;
      if (n < 0)
        return false;
    }
  }
  void connect_to(const std::string& address) {
    auto colon = address.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    REQUIRE(::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) == 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  void send_all(const bytes& b) {
    REQUIRE(::send(fd, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size()));
  }
  int fd;
};

inline bytes length_prefix(uint32_t n) {
  return {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
          static_cast<uint8_t>(n >> 24)};
}

/// The i-th small frame of a bulk transfer: its index, then a pattern that depends on it.
inline bytes small_frame(uint32_t i, size_t size = 4096) {
  bytes b(size);
  for (size_t j = 0; j < size; ++j)
    b[j] = static_cast<uint8_t>(i * 131 + j * 7);
  auto prefix = length_prefix(i);
  std::copy(prefix.begin(), prefix.end(), b.begin());
  return b;
}

/// Polls `fn` until it holds, for counters that have no event to wait on; false after 5 s.
template <class Fn>
bool eventually(Fn fn) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!fn()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

/// Opens a session from `a` to `b`; returns a's id and b's id for it.
inline std::pair<session_id, session_id> connect(node& a, node& b) {
  auto id = a.transport.open_session(b.transport.session_address());
  REQUIRE(a.events.wait([&](auto& l) { return !l.opens.empty() || !l.closes.empty(); }));
  REQUIRE(b.events.wait([](auto& l) { return !l.opens.empty(); }));
  auto mine = a.events.inspect([](auto& l) { return l.opens.at(0); });
  auto theirs = b.events.inspect([](auto& l) { return l.opens.at(0); });
  CHECK(mine.id == id);
  CHECK_FALSE(mine.inbound);
  CHECK(mine.peer == b.transport.session_address());
  CHECK(theirs.inbound);
  CHECK(theirs.peer.rfind("127.0.0.1:", 0) == 0);
  return {id, theirs.id};
}

} // namespace fwrescue::test::lan_tests
