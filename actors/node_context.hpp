#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "common/log.hpp"
#include "config/node_config.hpp"
#include "hal/flash.hpp"
#include "hal/flash/region.hpp"
#include "hal/host_power.hpp"
#include "hal/host_power/reporting.hpp"
#include "hal/nv_store.hpp"
#include "image/keys.hpp"
#include "metrics/node_metrics.hpp"
#include "policies/policy.hpp"
#include "sources/image_location.hpp"
#include "transports/transport.hpp"

namespace fwrescue {

/// Everything a node's actors depend on, built once by main() (or by a test, with fakes) and
/// handed to each actor at spawn. Owned by the node; the actors hold a shared pointer.
struct node_context {
  node_config config;
  std::shared_ptr<logger> log;
  /// The image region of the BIOS flash (the whole chip unless [flash] names a region).
  std::shared_ptr<flash> chip;
  /// Where that region lies on the chip.
  flash_layout layout;
  std::shared_ptr<host_power> power;
  /// The same host, seen through its failure record (the daemon wraps `power` in it); null in
  /// tests that do not need it.
  std::shared_ptr<reporting_host_power> power_report;
  std::shared_ptr<nv_store> store;
  std::shared_ptr<transport> link;
  std::shared_ptr<const secret_key> node_key;
  std::vector<public_key> trusted_keys;
  /// Node keys of the management consoles ([trust] console_keys): only their offers may claim
  /// the console role.
  std::vector<public_key> console_keys;
  /// Keys allowed to sign revocation lists ([trust] revocation_keys, else the manifest keys).
  std::vector<public_key> revocation_keys;
  policy_registry policies;
  /// The image locations of recovery.sources other than "peers", by source name, built from
  /// the registry in main(). The fetch actor alone uses them (they block on I/O).
  std::map<std::string, std::shared_ptr<image_location>> locations;

  /// The firmware target this context's actors look after: its name, and its index among the
  /// node's targets (0: the one [flash] and [host_power] describe; [[target]] entries follow).
  /// Each target has its own flash, store, monitor, coordinator, transfer and flasher; the
  /// router, the donor and the media watcher serve them all.
  std::string target = "bios";
  uint32_t target_index = 0;
  /// Every target's name, by index (the shared actors reach each target's actors by it).
  std::vector<std::string> target_names = {"bios"};
  /// Held by a flasher for its whole job when its target shares the host with others: two
  /// targets written at once must not each power the host off and restore it on their own.
  std::shared_ptr<std::mutex> host_lock;
  /// The node's metrics: one object for every target's context (they are copies of the
  /// first's) and across reloads, so a scrape sees the whole node. A context made afresh has
  /// its own, so tests never share counts.
  std::shared_ptr<node_metrics> metrics = std::make_shared<node_metrics>();
};

using context_ptr = std::shared_ptr<const node_context>;

/// A new context after the configuration was reloaded; every actor swaps it in and uses it
/// from its next message on.
struct context_update {
  context_ptr ctx;
};

/// The names under which the supervisor registers each role in the actor system's registry.
/// Actors find each other by name at send time, so a restarted child is found again.
namespace roles {
constexpr caf::atom_value fetch = caf::atom("fetch");
constexpr caf::atom_value media_watcher = caf::atom("media");
constexpr caf::atom_value coordinator = caf::atom("coord");
constexpr caf::atom_value monitor = caf::atom("monitor");
constexpr caf::atom_value discovery = caf::atom("discovery");
constexpr caf::atom_value negotiation = caf::atom("negotiate");
constexpr caf::atom_value transfer = caf::atom("transfer");
constexpr caf::atom_value flasher = caf::atom("flasher");
constexpr caf::atom_value donor = caf::atom("donor");
constexpr caf::atom_value router = caf::atom("router");
constexpr caf::atom_value boot_watch = caf::atom("bootwatch");
constexpr caf::atom_value fleet = caf::atom("fleet");
} // namespace roles

/// The actor registered under `role`, or an invalid handle.
inline caf::actor find_role(caf::actor_system& sys, caf::atom_value role) {
  return sys.registry().get<caf::actor>(role);
}

/// Whether every firmware target has its own actor in `role` (the router, the donor, the media
/// watcher and the fleet view serve all targets).
bool per_target(caf::atom_value role);

/// The registry name of `role` for target `index`: the role itself for the first target, and
/// with the index appended for the others ("coord1").
caf::atom_value role_of(caf::atom_value role, uint32_t index);

/// The actor in `role` for the target `ctx` looks after (or the shared one).
inline caf::actor find_role(caf::actor_system& sys, caf::atom_value role, const node_context& ctx) {
  return find_role(sys, per_target(role) ? role_of(role, ctx.target_index) : role);
}

} // namespace fwrescue

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::context_update)
