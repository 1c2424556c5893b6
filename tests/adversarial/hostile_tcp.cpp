// Attacks on a daemon's session port that need no key: idle connections by the thousand,
// handshakes left half way, frame headers announcing more than any frame may hold.

#include <algorithm>
#include <cstring>
#include <functional>
#include <poll.h>
#include <sys/socket.h>

#include "tests/adversarial/hostile_peer.hpp"

namespace fwrescue::adversary {

namespace {

struct connection {
  unique_fd fd;
  clock::time_point since;
  bool open = false;
};

/// Waits until every connection in `conns` that is still connecting has finished (or
/// `timeout_ms` passed); marks the ones that succeeded open. Returns the first error seen.
std::string finish_connects(std::vector<connection>& conns, int timeout_ms) {
  std::string first_error;
  auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<size_t> pending;
  for (size_t i = 0; i < conns.size(); ++i)
    if (conns[i].fd.get() >= 0 && !conns[i].open)
      pending.push_back(i);
  while (!pending.empty() && clock::now() < deadline) {
    std::vector<pollfd> fds;
    for (auto i : pending)
      fds.push_back({conns[i].fd.get(), POLLOUT, 0});
    if (::poll(fds.data(), fds.size(), 200) <= 0)
      continue;
    std::vector<size_t> still;
    for (size_t k = 0; k < pending.size(); ++k) {
      auto& c = conns[pending[k]];
      if (fds[k].revents == 0) {
        still.push_back(pending[k]);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) {
        c.open = true;
        c.since = clock::now();
      } else {
        if (first_error.empty())
          first_error = std::strerror(err);
        c.fd = unique_fd{};
      }
    }
    pending.swap(still);
  }
  for (auto i : pending)
    conns[i].fd = unique_fd{};
  if (!pending.empty() && first_error.empty())
    first_error = "connect timed out";
  return first_error;
}

size_t count_open(const std::vector<connection>& conns) {
  return static_cast<size_t>(
    std::count_if(conns.begin(), conns.end(), [](const auto& c) { return c.open; }));
}

/// Marks the connections the daemon closed; returns how many it closed this time.
size_t reap_closed(std::vector<connection>& conns, int timeout_ms,
                   const std::function<void(size_t, const std::string&)>& closed) {
  std::vector<pollfd> fds;
  for (auto& c : conns)
    fds.push_back({c.open ? c.fd.get() : -1, POLLIN, 0});
  if (::poll(fds.data(), fds.size(), timeout_ms) <= 0)
    return 0;
  size_t n = 0;
  for (size_t i = 0; i < conns.size(); ++i) {
    std::string reason;
    if (fds[i].revents == 0 || !closed_by_peer(conns[i].fd.get(), reason))
      continue;
    conns[i].open = false;
    conns[i].fd = unique_fd{};
    ++n;
    closed(i, reason);
  }
  return n;
}

} // namespace

int idle_connections(const peer& p, const peer_options& o) {
  auto limit = raise_descriptor_limit();
  if (limit < static_cast<uint64_t>(o.count) + 64)
    fatal(fmt::format("{} connections need more descriptors than this process may have ({})",
                      o.count, limit));
  auto to = parse_endpoint(o.to);
  std::vector<connection> conns(static_cast<size_t>(o.count));
  for (auto& c : conns)
    c.fd = start_connect(p.source, to);
  auto error = finish_connects(conns, 5000);
  auto opened = count_open(conns);
  say("idle-connections: {} of {} connections to {} open{}", opened, conns.size(), o.to,
      error.empty() ? "" : " (first failure: " + error + ")");
  uint64_t closed = 0, reopened = 0;
  std::string first_reason;
  auto next_report = clock::now() + std::chrono::seconds(2);
  auto budget_start = clock::now();
  uint64_t budget_used = 0;
  while (p.running()) {
    closed +=
      reap_closed(conns, std::min(p.remaining_ms(), 250), [&](size_t, const std::string& reason) {
        if (first_reason.empty())
          first_reason = reason;
      });
    if (o.reopen) {
      // Reopen what the daemon closed, at a bounded pace: the pressure stays without turning
      // into a connect storm.
      auto allowed = static_cast<uint64_t>(
        std::chrono::duration<double>(clock::now() - budget_start).count() * o.reopen_per_s);
      std::vector<size_t> started;
      for (size_t i = 0; i < conns.size() && budget_used < allowed; ++i)
        if (!conns[i].open && conns[i].fd.get() < 0) {
          conns[i].fd = start_connect(p.source, to);
          ++budget_used;
          started.push_back(i);
        }
      if (!started.empty()) {
        finish_connects(conns, 1000);
        for (auto i : started)
          reopened += conns[i].open ? 1 : 0;
      }
    }
    if (clock::now() >= next_report) {
      say("holding {} open; {} closed by the daemon so far{}; {} reopened", count_open(conns),
          closed, first_reason.empty() ? "" : " (" + first_reason + ")", reopened);
      next_report += std::chrono::seconds(2);
    }
  }
  say("idle-connections: {} of {} held open at the end; {} closed by the daemon; {} reopened",
      count_open(conns), conns.size(), closed, reopened);
  return 0;
}

int half_open(const peer& p, const peer_options& o) {
  auto to = parse_endpoint(o.to);
  std::vector<connection> conns(static_cast<size_t>(o.count));
  for (auto& c : conns)
    c.fd = start_connect(p.source, to);
  auto error = finish_connects(conns, 3000);
  // Three bytes of the four of a length prefix: the daemon can never tell how long the frame is.
  const uint8_t partial[3] = {0x10, 0x00, 0x00};
  for (auto& c : conns)
    if (c.open && !write_all(c.fd.get(), partial, clock::now() + std::chrono::seconds(1)))
      c.open = false;
  say("half-open: {} of {} connections to {} sent 3 bytes of a frame header{}", count_open(conns),
      conns.size(), o.to, error.empty() ? "" : " (first failure: " + error + ")");
  auto sent = count_open(conns);
  size_t closed = 0;
  while (p.running())
    closed +=
      reap_closed(conns, std::min(p.remaining_ms(), 250), [&](size_t i, const std::string& reason) {
        say("connection {} closed by the daemon after {:.1f} s ({})", i + 1,
            std::chrono::duration<double>(clock::now() - conns[i].since).count(), reason);
      });
  say("half-open: {} of {} closed by the daemon within {:.0f} s", closed, sent,
      std::chrono::duration<double>(p.end - conns.front().since).count());
  return 0;
}

int oversize_frame(const peer& p, const peer_options& o) {
  auto to = parse_endpoint(o.to);
  const uint32_t lengths[] = {0xffffffffu, 0x80000000u, (2u << 20) + 1};
  int closed = 0;
  for (auto length : lengths) {
    std::string error;
    auto fd = connect_to(p.source, to, 2000, error);
    if (fd.get() < 0) {
      say("length {:#x}: cannot connect: {}", length, error);
      continue;
    }
    auto start = clock::now();
    std::vector<uint8_t> junk(1024, 0x55);
    auto header = frame_header(length);
    auto deadline = start + std::chrono::seconds(1);
    bool wrote = write_all(fd.get(), header, deadline) && write_all(fd.get(), junk, deadline);
    // Anything the daemon answers is noted; what counts is whether it closes the connection.
    frame_reader reader;
    auto r = reader.next(fd.get(), 5000);
    std::string answered;
    while (r.what == frame_reader::status::frame) {
      answered = describe_frame(r.frame);
      r = reader.next(
        fd.get(),
        static_cast<int>(std::max<int64_t>(
          0, 5000
               - std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start)
                   .count())));
    }
    if (!answered.empty())
      say("length {:#x}: the daemon answered {}", length, answered);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start).count();
    if (r.what == frame_reader::status::closed) {
      ++closed;
      say("length {:#x}: closed by the daemon after {} ms ({})", length, ms, r.reason);
    } else {
      say("length {:#x}: still open after 5 s{}", length, wrote ? "" : " (could not send it all)");
    }
  }
  say("oversize-frame: {} of {} connections closed by the daemon", closed, std::size(lengths));
  return 0;
}

} // namespace fwrescue::adversary
