#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "actors/router.hpp"
#include "actors/staging_file.hpp"
#include "image/tree_walk.hpp"
#include "image/verified_blocks.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

/// Coordinator -> transfer: pull the image from these donors, best first.
struct transfer_job {
  /// The coordinator's job number; every report about this job carries it, so that a report
  /// about an earlier one is told apart.
  uint64_t job = 0;
  image_request request;
  std::vector<candidate> candidates;
  /// The monitor's last check of the flash; its bad blocks are not scanned for reuse when the
  /// target is the image it checked against.
  flash_report flash_check = {};
};

/// Coordinator -> transfer: the job is given up (it made no progress for the phase's deadline).
/// Its sessions are ended, so a slow link is free for the next attempt's discovery.
struct transfer_cancel {
  uint64_t job = 0;
  std::string reason;
};

/// Coordinator -> transfer, when a recovery starts from the monitor's check: the blocks it
/// found bad are likely the ones to pull, so the memory to keep them in is readied while offers
/// are awaited. An unchecked report releases memory readied earlier and not used.
struct ready_memory {
  flash_report check;
};

/// Transfer -> a block verifier: hash a run of received blocks and compare each to its signed
/// digest. The bytes travel with the messages (moved, not copied).
struct verify_run {
  /// transfer_state::epoch when the run was received; a result from an earlier one is ignored.
  uint64_t epoch = 0;
  uint64_t first = 0;
  std::vector<uint8_t> bytes;
  hash_algorithm alg = hash_algorithm::blake2b_256;
  uint32_t block_size = 0;
  /// The signed digest of each block of the run.
  std::vector<digest> expected;
  /// Where the transfer will keep the run's verified blocks (none: not kept in memory).
  std::shared_ptr<verified_blocks> keep;
};

/// A block verifier -> transfer: the run back, with how many of its blocks verified.
struct run_verified {
  uint64_t epoch = 0;
  uint64_t first = 0;
  std::vector<uint8_t> bytes;
  /// Blocks from the first that verified; fewer than the run holds names the first bad one.
  uint64_t good = 0;
  uint64_t count = 0;
};

/// Hashes runs of blocks for the transfer, so that blocks are verified on other threads while
/// the transfer stages the ones already verified and the next ones arrive. (A class rather than
/// a function: CAF 0.17 spawns a function without arguments through a null pointer.)
class block_verifier : public caf::event_based_actor {
public:
  explicit block_verifier(caf::actor_config& cfg) : caf::event_based_actor(cfg) {
  }
  caf::behavior make_behavior() override;
};

struct transfer_state {
  using clock = std::chrono::steady_clock;
  enum class phase { idle, connecting, confirming, receiving_digests, walking, pulling };
  /// Where the block digests of the image come from once a donor confirms.
  enum class digest_plan {
    /// Every digest arrives as leaves (the image's shape differs from anything we can hash).
    leaves,
    /// The installed manifest has the image's root: its digests are the image's.
    held,
    /// Our flash, hashed in the image's shape, is compared top-down with the donor's tree.
    walk,
  };

  /// A donor being connected to and asked to confirm. Several may be at once: the next one
  /// starts while the earlier ones have not answered, and each has its own deadline, so donors
  /// that never answer (cheap identities with listeners behind them) cost little time.
  struct handshake {
    candidate donor;
    /// The session is up and the accept sent.
    bool opened = false;
    clock::time_point deadline{};
    /// The time it was given: the configured handshake time, or more on a slow link.
    std::chrono::milliseconds timeout{};
    /// What the accept asked for: no leaves (plan held or walk), zstd-compressed blocks.
    digest_plan plan = digest_plan::leaves;
    bool compress = false;
  };

  context_ptr ctx;
  uint64_t job = 0;
  /// A job is under way: it ends with transfer_done or transfer_failed, and nothing starts a
  /// donor after that.
  bool active = false;
  image_request request;
  flash_report flash_check;
  std::vector<candidate> queue;
  size_t next = 0;
  phase at = phase::idle;
  std::map<session_id, handshake> handshakes;
  /// When the next candidate may start although earlier handshakes are still pending.
  clock::time_point next_start{};
  /// A timer to start the next candidate is set.
  bool start_timer = false;

  // The donor being pulled from (it confirmed first).
  std::optional<candidate> current;
  session_id session = 0;
  /// The properties of the current donor's link.
  link_properties link;
  /// The current donor is dropped when nothing arrives by then (recovery.block_timeout_ms
  /// after the last frame); one timer at a time watches it.
  clock::time_point deadline{};
  bool deadline_timer = false;
  /// Block bytes received from the current donor, and at the last rate check.
  uint64_t received = 0;
  uint64_t received_at_check = 0;
  clock::time_point rate_checked{};

  // The image being assembled. `have` refers to `staged_root`'s image and survives a change of
  // donor within one job, so blocks verified from one donor are not pulled again from the next;
  // a new job starts afresh.
  signed_manifest target;
  uint64_t digests_received = 0;
  /// The current donor's plan (leaves when it confirmed without omitting them), whether its
  /// block runs may come compressed, and the tree walk under way (plan walk).
  digest_plan plan = digest_plan::leaves;
  bool compress = false;
  std::unique_ptr<tree_walk> walk;
  digest staged_root{};
  std::vector<bool> have;
  /// The blocks of `have` that are in the staging file (the others are on the flash).
  std::vector<bool> staged;
  uint64_t have_count = 0;
  std::vector<uint64_t> wanted;
  size_t wanted_pos = 0;
  std::set<uint64_t> outstanding;
  /// Blocks received and handed to a verifier, not yet back; with `outstanding`, they fill the
  /// window.
  uint64_t verifying = 0;
  /// Bumped whenever the donor changes, so that verifier results for an earlier one are ignored.
  uint64_t epoch = 0;
  std::vector<caf::actor> verifiers;
  size_t next_verifier = 0;
  std::unique_ptr<staging_file> staging;
  /// The blocks pulled in this job, kept in memory as verified, for the flasher (null when the
  /// image is larger than recovery.verified_in_memory_mib); handed over with transfer_done.
  std::shared_ptr<verified_blocks> verified;
  /// Memory readied for the blocks of the installed image the monitor found bad (ready_memory),
  /// taken as `verified` when the image to pull has the same layout.
  std::shared_ptr<verified_blocks> ready;
  uint64_t pulled = 0;
  uint64_t reused = 0;
  /// When progress was last reported to the coordinator.
  clock::time_point progress_reported{};
  /// When the job started, for the transfer's duration.
  clock::time_point job_started{};

  std::vector<std::string> failures;

  static inline const char* name = "transfer";
};

/// Pulls an image from the ranked donors: opens sessions and sends signed accepts, best donor
/// first and the next ones staggered while earlier ones have not confirmed (up to
/// recovery.parallel_handshakes at once, each given recovery.handshake_timeout_ms); the first to
/// confirm is pulled from and the others are let go. It learns the block digests (from the
/// installed manifest when it has the image's root, else by walking the donor's tree top-down
/// against its flash, else from the donor's leaves) and checks they build the signed root, reuses
/// every block the flash or the staging file already holds, then requests the rest in a window of
/// outstanding requests and verifies each block before staging it. A donor that is busy, declines,
/// stalls (recovery.block_timeout_ms), falls below limits.min_rate_kbps, disconnects or sends a bad
/// block is dropped and the next one continues with the blocks already verified.
caf::behavior transfer(caf::stateful_actor<transfer_state>* self, context_ptr ctx);

} // namespace fwrescue

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::transfer_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::transfer_cancel)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::ready_memory)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::verify_run)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::run_verified)
