#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "transports/ble/ble_address.hpp"

// The seam between the BLE transport and its links: one interface for an L2CAP LE
// credit-based channel and one for the adapter that makes them. ble_l2cap.* implements them on
// the kernel's Bluetooth sockets, ble_emulated.* on Unix sockets behind a shaper that models
// the MTU, the credits and the rate. The transport's loop polls fd() and calls the rest when
// poll() says so; nothing here blocks.
namespace fwrescue::ble {

using clock = std::chrono::steady_clock;

/// What a channel's send() or receive() did.
enum class io_status {
  /// One SDU went out, or one came in.
  done,
  /// Nothing now: the socket is full or empty, no credit is left, or the rate holds the next
  /// SDU back until wake_at().
  blocked,
  /// The peer closed the channel.
  closed,
  /// The channel failed; the reason says why.
  failed,
};

/// One L2CAP LE credit-based channel (or its emulation): ordered SDUs of at most the MTU each
/// way, reliable, with flow control by credits.
class channel {
public:
  virtual ~channel() = default;

  /// The descriptor to poll.
  virtual int fd() const = 0;

  /// The poll() events to wait for: the channel adds what it needs itself (its connection
  /// set-up, or credits coming back) to what the caller wants.
  virtual short poll_events(bool want_read, bool want_write) const = 0;

  /// For a channel being set up: advances it when poll() reports its descriptor. Returns true
  /// once it is open, false while it is not yet, or the reason it failed.
  virtual caf::expected<bool> progress() = 0;

  /// The peer's address (known once progress() has returned true).
  virtual device_address peer() const = 0;

  /// Largest SDU the peer takes (the send MTU), once open.
  virtual size_t send_mtu() const = 0;

  /// Sends one SDU of at most send_mtu() bytes; `reason` gets the text on failure.
  virtual io_status send(std::span<const uint8_t> sdu, std::string& reason) = 0;

  /// Receives one SDU into `sdu`; `reason` gets the text on failure.
  virtual io_status receive(std::vector<uint8_t>& sdu, std::string& reason) = 0;

  /// Whether receive() has an SDU without reading the socket: one taken in while send() looked
  /// for credits. poll() cannot see it, so the loop must not wait.
  virtual bool buffered() const {
    return false;
  }

  /// When a send() blocked by the rate may succeed; nothing when no timer is needed.
  virtual std::optional<clock::time_point> wake_at() const {
    return std::nullopt;
  }
};

/// This node's end of the link: a listener for channels peers open, and the way to open one.
class adapter {
public:
  virtual ~adapter() = default;

  /// The listening descriptor to poll for POLLIN.
  virtual int listen_fd() const = 0;

  /// This node's address as peers reach it.
  virtual device_address address() const = 0;

  /// Takes one channel a peer opened; null when none is waiting. An error concerns that one
  /// channel only (or the process's descriptors).
  virtual caf::expected<std::unique_ptr<channel>> accept() = 0;

  /// Starts opening a channel to `peer`; progress() finishes it. An error is the one line
  /// on_session_closed reports ("connect to AA:BB:CC:DD:EE:FF: Connection refused").
  virtual caf::expected<std::unique_ptr<channel>> connect(const device_address& peer) = 0;
};

} // namespace fwrescue::ble
