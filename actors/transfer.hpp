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
#include "image/block_set.hpp"
#include "image/partial_image.hpp"
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
  /// The recovery the job is an attempt of (coordinator_state::recoveries): donors that lied in
  /// an earlier attempt of the same recovery are not taken up again.
  uint64_t recovery = 0;
};

/// Transfer -> coordinator: fewer donors than recovery.max_donors are being pulled from and no
/// candidate is left; fresh offers for the image being pulled are welcome (nodes that started
/// recovering it since the job began offer what they hold).
struct more_donors {
  uint64_t job = 0;
};

/// Coordinator -> transfer: candidates from a fresh request, ranked by the policy.
struct more_candidates {
  uint64_t job = 0;
  std::vector<candidate> candidates;
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
  /// The donor that sent it (transfer_state::puller::serial).
  uint64_t source = 0;
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
  uint64_t source = 0;
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

  /// A donor being pulled from. Several are at once (up to recovery.max_donors), each with its
  /// own window of requests, deadline and rate; any of them may be dropped while the others go on.
  struct puller {
    candidate donor;
    /// Tells this donor's timers and verifier results apart from an earlier donor's on the same
    /// session number.
    uint64_t serial = 0;
    link_properties link;
    /// Its accept asked for no leaves and for compressed runs.
    digest_plan plan = digest_plan::leaves;
    bool compress = false;
    /// The digests are known and blocks may be asked of it.
    bool ready = false;
    /// Dropped when nothing arrives by then (its link's block timeout after its last frame).
    clock::time_point deadline{};
    bool deadline_timer = false;
    /// Block bytes received, and at the last rate check.
    uint64_t received = 0;
    uint64_t received_at_check = 0;
    clock::time_point rate_checked{};
    clock::time_point started{};
    /// Blocks asked of it and not yet received; blocks received and being verified.
    std::set<uint64_t> outstanding;
    uint64_t verifying = 0;
    /// The blocks it holds (a partial donor: from its offer, then its holdings messages); none
    /// for a donor holding the whole image.
    std::optional<block_set> holds;
    /// Leaves received from a donor that is not the one the digests come from (ignored).
    uint64_t stray_leaves = 0;
    uint64_t pulled = 0;
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

  std::map<session_id, puller> pullers;
  /// The donor the digests come from: the first to confirm (0 once they are known).
  session_id lead = 0;
  /// The digests of `target` are known and checked against its root.
  bool digests_known = false;
  uint64_t next_serial = 0;
  /// Donors that sent a block failing verification: never taken up again in this recovery.
  std::vector<public_key> liars;
  /// The recovery `liars` belong to.
  uint64_t recovery = 0;
  /// Requests in flight per block (outstanding or being verified) over all donors.
  std::vector<uint16_t> claims;
  /// Where this node starts its walk through the image's blocks (block_picker.hpp).
  uint64_t start_block = 0;
  /// Asking for more offers while pulling: when it was last done (at most once per three
  /// discovery windows; an answer that never comes costs nothing but that wait).
  clock::time_point more_asked{};
  /// Blocks pulled from donors dropped since, by name, for the transfer's "donor" line.
  std::vector<std::pair<std::string, uint64_t>> ended;
  /// The image as far as verified, served to peers meanwhile (null when not served).
  std::shared_ptr<partial_image> partial;
  /// A whole image handed to the flasher and still served by the donor from memory and the
  /// staging file: invalidated when the transfer next touches the staging file.
  std::weak_ptr<partial_image> handed_over;

  // The image being assembled. `have` refers to `staged_root`'s image and survives a change of
  // donor within one job, so blocks verified from one donor are not pulled again from the next;
  // a new job starts afresh.
  signed_manifest target;
  uint64_t digests_received = 0;
  /// The tree walk under way with the lead donor (plan walk).
  std::unique_ptr<tree_walk> walk;
  digest staged_root{};
  std::vector<bool> have;
  /// The blocks of `have` that are in the staging file (the others are on the flash).
  std::vector<bool> staged;
  uint64_t have_count = 0;
  /// Bumped whenever the image being assembled changes, so that verifier results for an
  /// earlier one are ignored.
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
  /// Every donor dropped in this job answered busy (set while none failed otherwise).
  bool only_busy = true;
  /// The failure being recorded is a busy answer asking for this wait (set just before it is
  /// recorded, read by it; 0: not a busy answer).
  uint32_t busy_answer_ms = 0;
  /// The shortest wait the busy donors of this job asked for.
  uint32_t busy_hint_ms = 0;

  transfer_state() = default;
  transfer_state(const transfer_state&) = delete;
  transfer_state& operator=(const transfer_state&) = delete;
  /// A transfer that ends (or is restarted by its supervisor) stops the donor serving the image
  /// it was pulling: the staging file is the next transfer's.
  ~transfer_state() {
    if (partial)
      partial->invalidate();
    if (auto p = handed_over.lock())
      p->invalidate();
  }

  static inline const char* name = "transfer";
};

/// Pulls an image from the ranked donors: opens sessions and sends signed accepts, best donor
/// first and the next ones staggered while earlier ones have not confirmed (up to
/// recovery.parallel_handshakes at once, each given recovery.handshake_timeout_ms). The first to
/// confirm leads: the block digests are learnt through it (from the installed manifest when it
/// has the image's root, else by walking its tree top-down against the flash, else from its
/// leaves) and checked against the signed root; every block the flash or the staging file
/// already holds is reused. Then up to recovery.max_donors donors of that image are pulled from
/// at once, each asked for runs as its window frees (policies/block_picker.hpp: rarest first, a
/// console only for what no peer holds), so faster donors get more; when nothing is left to
/// assign, a donor with room asks again for blocks still outstanding at another (the slow one's
/// runs go to whichever answers first). More offers are asked for while fewer donors than that
/// are pulled from. Every block is verified before it is staged; a donor that is busy,
/// declines, stalls (its link's block timeout), falls below limits.min_rate_kbps or disconnects
/// is dropped and its runs go back to the others; one that sends a bad block is not taken up
/// again in the job. The image as far as verified is offered to peers meanwhile
/// (image/partial_image.hpp).
caf::behavior transfer(caf::stateful_actor<transfer_state>* self, context_ptr ctx);

} // namespace fwrescue

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::transfer_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::transfer_cancel)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::more_donors)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::more_candidates)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::ready_memory)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::verify_run)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::run_verified)
