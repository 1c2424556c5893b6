#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/behavior.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/fleet_identity.hpp"
#include "actors/node_context.hpp"
#include "actors/router.hpp"
#include "messages/protocol.hpp"

namespace fwrescue {

/// An operator asks for the fleet view (node_query::fleet): answered with a fleet_report once
/// the window has passed. `wait` zero: the node's discovery window over its slowest link.
struct fleet_scan_request {
  std::chrono::milliseconds wait{0};
};

/// One node in the fleet view: this node itself (`self`, no address) or a node that answered.
struct fleet_entry {
  std::string address;
  bool self = false;
  fleet_answer_fields fields;
};

/// An answer listed nowhere, and why.
struct fleet_drop {
  std::string address;
  std::string node;
  std::string why;
};

/// What a fleet query found.
struct fleet_report {
  std::string asker;
  uint64_t window_ms = 0;
  std::vector<fleet_entry> nodes;
  std::vector<fleet_drop> dropped;
  /// Answers (kept or dropped) past the bounds of what one query keeps.
  uint64_t left_out = 0;
};

/// Bounds of one fleet query: a forged flood of answers costs at most this much memory.
namespace fleet_bounds {
constexpr size_t max_answers = 256;
constexpr size_t max_dropped = 64;
/// Queries answered at once (each asks the node's coordinators for their state first); the
/// router's answer rate limit already bounds how many arrive.
constexpr uint32_t max_answering = 8;
constexpr auto min_wait = std::chrono::milliseconds(50);
constexpr auto max_wait = std::chrono::milliseconds(10000);
} // namespace fleet_bounds

/// A fleet query being collected.
struct open_fleet_scan {
  fleet_query_fields query;
  caf::response_promise promise;
  fleet_report report;
  /// Node ids listed, with the keys they answered under.
  std::map<std::string, public_key> kept;
  std::optional<fleet_entry> own;
  bool window_over = false;
};

struct fleet_state {
  context_ptr ctx;
  fleet_pins pins;
  std::optional<open_fleet_scan> scan;
  uint32_t answering = 0;
  static inline const char* name = "fleet";
};

/// The fleet view (docs/fleet.md). Answers signed fleet queries from other nodes, verified under
/// the key they carry, over the link each came on, with this node's summary (links, and each
/// target's image, state and last recovery), never larger than the query. On a
/// fleet_scan_request broadcasts a signed query on every link, keeps the answers that echo it,
/// verify and may carry their node id (fleet_identity.hpp), and answers with them and itself.
caf::behavior fleet(caf::stateful_actor<fleet_state>* self, context_ptr ctx);

/// Where the pins live: `fleet_pins` in the node's state directory.
std::string fleet_pin_path(const node_context& ctx);

} // namespace fwrescue

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::fleet_scan_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::fleet_report)
