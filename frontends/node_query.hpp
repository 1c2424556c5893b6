#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "actors/fleet.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

/// What every operator interface (the admin socket, Redfish, D-Bus) asks a running node: each
/// firmware target's status and "recover now". The answers come from the targets' coordinator
/// actors, so every interface shows the same state and starts recoveries the same way.
/// Thread-safe: each call uses its own scoped actor; callers are the interfaces' own threads.
class node_query {
public:
  /// `targets`: the node's firmware targets' names, by index (index 0 is the first [flash]).
  node_query(caf::actor_system& sys, std::vector<std::string> targets);

  const std::vector<std::string>& targets() const {
    return targets_;
  }

  /// The index of the target called `name`, if the node has one.
  std::optional<uint32_t> index_of(std::string_view name) const;

  /// "unknown target 'x' (this node has: bios, nic)".
  std::string unknown_target(std::string_view name) const;

  /// One target's status as its coordinator reports it (docs/status.md has the schema).
  caf::expected<nlohmann::ordered_json> status(uint32_t target) const;

  /// The node's status: the first target's at the top (as for a node with one target) and,
  /// when there are several, every target's under "targets".
  caf::expected<nlohmann::ordered_json> node_status() const;

  /// Asks the target's coordinator to start a recovery; the answer says what it did.
  caf::expected<std::string> recover(uint32_t target) const;

  /// Asks the target's coordinator to recover (or update) from the one image `location` holds,
  /// and from nothing else; `reason` is logged and shown in status. The answer says whether it
  /// started and the recovery's number, by which status names it from then on.
  caf::expected<recovery_started> recover_from(uint32_t target,
                                               std::shared_ptr<image_location> location,
                                               std::string reason) const;

  /// Asks every node reachable over the node's links for its summary (docs/fleet.md) and
  /// answers after `wait` (zero: the discovery window over the slowest link) with the nodes that
  /// answered, this one first, and the answers dropped.
  caf::expected<fleet_report> fleet(std::chrono::milliseconds wait) const;

private:
  caf::actor_system& sys_;
  std::vector<std::string> targets_;
};

} // namespace fwrescue
