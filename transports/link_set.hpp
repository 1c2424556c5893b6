#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transports/transport.hpp"

namespace fwrescue {

/// One link of a node as status shows it.
struct link_status {
  /// The link's kind: "lan", "icmb", "ble".
  std::string name;
  bool up = false;
  /// This node's session address on the link, typed ("icmb:0x0012"); empty while down.
  std::string address;
  /// Why the link did not start (empty when it is up).
  std::string error;
  transport_counters counters;
  link_properties properties;
};

/// Every link a node has, run as one transport. Addresses are typed by link: the link's kind, a
/// colon, then the link's own address ("lan:127.0.0.1:47711", "icmb:0x0012",
/// "ble:AA:BB:CC:DD:EE:FF"). Datagrams arrive with their link's prefix and answers go back the
/// same way; broadcast() goes out on every link that is up; open_session() takes a typed address
/// and opens the session on that link. A session's id names its link in its low bits, so ids
/// translate both ways without a table and without a lock.
///
/// A link that fails to start is reported once through `warn` and left out; start() fails only
/// when no link starts, so a node without Bluetooth still runs on its LAN and serial bus.
class link_set : public transport {
public:
  /// At most this many links, so a link's index fits the low bits of a session id.
  static constexpr size_t max_links = 7;

  using warning = std::function<void(std::string_view)>;

  /// `links` are the node's enabled links, in the order their names are listed in the
  /// configuration; each one's properties().kind is its prefix, and kinds must be distinct.
  link_set(std::vector<std::shared_ptr<transport>> links, warning warn);
  link_set(const link_set&) = delete;
  link_set& operator=(const link_set&) = delete;
  ~link_set() override;

  /// The fastest link's properties, with the smallest datagram and frame any link carries; a
  /// session's own link is in session_properties().
  link_properties properties() const override;
  link_properties session_properties(session_id id) const override;
  link_properties address_properties(const std::string& address) const override;

  caf::error start(transport_events& events) override;
  void stop() override;

  /// The first link's session address (typed); session_address_for() picks the one on the link
  /// a datagram came in on.
  std::string session_address() const override;
  std::string session_address_for(const std::string& from) const override;

  void broadcast(std::vector<uint8_t> datagram) override;
  void send_datagram(const std::string& to, std::vector<uint8_t> datagram) override;
  session_id open_session(const std::string& address) override;
  void send_frame(session_id id, std::vector<uint8_t> frame) override;
  size_t queued(session_id id) const override;
  void frame_consumed(session_id id, size_t bytes) override;
  /// Without a sender the link is not known: callers use datagram_consumed_from(); this one
  /// tells the first link that is up.
  void datagram_consumed() override;
  void datagram_consumed_from(const std::string& from) override;
  void close_session(session_id id) override;
  transport_counters counters() const override;

  /// Every configured link, up or not, for status and the startup log.
  std::vector<link_status> links() const;

  /// Splits a typed address into its link kind and the link's own address; nullopt when it has
  /// no prefix.
  static std::optional<std::pair<std::string, std::string>> split(std::string_view address);

private:
  class relay;
  struct member {
    std::shared_ptr<transport> link;
    std::string name;
    std::unique_ptr<relay> events;
    std::atomic<bool> up{false};
    std::string error;
  };

  /// The member a typed address names, if that link is up; an address with no link's name
  /// (lower-case letters) before its first colon is a LAN address.
  member* route(const std::string& address, std::string& local) const;
  member* member_of(session_id id) const;
  /// A member's position, which a session id carries in its low bits.
  size_t index_of(const member* m) const;

  std::vector<std::unique_ptr<member>> members_;
  warning warn_;
  transport_events* events_ = nullptr;
  /// Ids of sessions to addresses no link takes (their link bits are past every link).
  std::atomic<session_id> unroutable_{1};
};

} // namespace fwrescue
