#pragma once

// Plain values the actors of one node exchange. They never leave the process (the wire
// protocol is messages/protocol.hpp), so CAF may carry them without serialisation support.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "image/merkle.hpp"
#include "messages/manifest.hpp"
#include "messages/protocol.hpp"
#include "policies/policy.hpp"
#include "transports/transport.hpp"

namespace fwrescue {

class verified_blocks;
class image_location;

// -- atoms ---------------------------------------------------------------------------------------

using check_atom = caf::atom_constant<caf::atom("check")>;
using recover_atom = caf::atom_constant<caf::atom("recover")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using hold_atom = caf::atom_constant<caf::atom("safehold")>;
/// Supervisor -> each child once every role is registered (and to a restarted child once it is
/// registered again): work that reaches other roles may begin.
using start_atom = caf::atom_constant<caf::atom("start")>;
/// The service watchdog's question to a coordinator (tools/fwrescued/service_notify): an answer
/// within its deadline shows that the actor's mailbox is served, so the scheduler is not wedged.
using ping_atom = caf::atom_constant<caf::atom("ping")>;

// -- transport events, forwarded from the transport's thread -------------------------------------

/// Held by an event while it waits to be handled: when the last copy goes (handled, or dropped
/// with a mailbox), the transport hears that the receiver caught up. Reading and receiving
/// pause while too much is unhandled, so a peer cannot fill our memory faster than we work.
using consumption_ticket = std::shared_ptr<void>;

struct datagram_event {
  std::string from;
  std::vector<uint8_t> bytes;
  consumption_ticket ticket = {};
};

struct session_opened_event {
  session_id id = 0;
  std::string peer;
  bool inbound = false;
};

struct frame_event {
  session_id id = 0;
  std::vector<uint8_t> bytes;
  consumption_ticket ticket = {};
};

struct session_closed_event {
  session_id id = 0;
  std::string reason;
};

/// The session's send queue fell below half its bound: the owner may send again.
struct session_drained_event {
  session_id id = 0;
};

/// An actor asks the router to deliver a session's events to it.
struct claim_session {
  session_id id = 0;
};

// -- monitor -------------------------------------------------------------------------------------

/// A check that could not judge the flash's content, and why. Neither is mended by pulling an
/// image: rewriting the chip through a path that fails to read it, or with an image that
/// cannot fit, would do harm or loop for ever.
enum class flash_fault : uint8_t {
  none,
  /// The flash could not be read: a fault of the path to the chip (programmer, bus, driver).
  unreadable,
  /// The installed image can never fit the flash region: a configuration or hardware mismatch.
  unfixable,
};

/// "none", "unreadable" or "unfixable".
const char* to_string(flash_fault f);

/// The outcome of checking the flash against the installed manifest.
struct flash_report {
  /// False when there is no installed manifest to check against.
  bool checked = false;
  /// The Merkle root of the manifest the flash was checked against.
  digest root{};
  uint64_t block_count = 0;
  std::vector<leaf_range> bad;
  /// Set when the content could not be judged; `bad` is then empty.
  flash_fault fault = flash_fault::none;
  std::string detail;

  bool ok() const {
    return checked && bad.empty() && fault == flash_fault::none;
  }
  /// Blocks were found bad: what a recovery mends.
  bool needs_recovery() const {
    return checked && !bad.empty() && fault == flash_fault::none;
  }
};

// -- coordinator ---------------------------------------------------------------------------------

/// Why a recovery starts.
struct replacement_needed {
  std::string reason;
};

/// An offer that passed the checks, with what the policy needs to rank it.
struct candidate {
  offer source;
  /// Where the offer came from (transport address of the donor's discovery socket).
  std::string from;
  signed_manifest manifest;
  /// Round trip from request to offer, in microseconds.
  uint64_t rtt_us = 0;
  /// The role the offer is taken to have: the one it claims, except that a console claim
  /// signed by a key that is not a known console key counts as a peer's.
  node_role role = node_role::peer;
  /// Nominal rate of the link the offer came over (0: unknown), for the policies that weigh it.
  uint64_t link_rate_bps = 0;
};

/// One offer as negotiation judged it, for status and logs.
struct offer_verdict {
  std::string donor;
  std::string role;
  std::string version;
  uint32_t svn = 0;
  bool compatible = false;
  /// Why it was rejected (empty when compatible).
  std::string reason;
  /// Position in the policy's order (1 = first choice; 0 when rejected).
  uint32_t rank = 0;
};

/// What negotiation made of the offers to one request.
struct negotiation_result {
  std::string policy;
  /// The donor the transfer went on with (set once one confirms).
  std::string accepted;
  std::vector<candidate> ranked;
  std::vector<offer_verdict> verdicts;
};

/// Offers collected for one request.
struct offers_collected {
  image_request request;
  std::vector<candidate> offers;
  /// Offers that failed before ranking (bad signature, wrong nonce), for the explanation.
  std::vector<offer_verdict> rejected;
  /// What the recipient remembers of each donor, filled in by the coordinator for the policy.
  donor_history history;
};

class partial_image;

/// Transfer -> donor: the image this target is pulling, as far as it is verified, for the donor
/// to offer and serve to peers meanwhile (image/partial_image.hpp); null: nothing any more (the
/// transfer ended, failed or moved to another image, which it also marks on the old one).
struct partial_update {
  uint32_t target_index = 0;
  std::shared_ptr<partial_image> image;
};

/// The transfer gave up on a donor; the coordinator remembers it for later negotiations.
struct donor_dropped {
  std::string donor;
  std::string reason;
  /// The donor sent a block that failed verification (not merely slow or gone).
  bool bad_block = false;
};

/// The transfer actor's progress and outcome.
// Every report about a job carries the coordinator's job number (transfer_job::job,
// flash_job::job): after a restart or a deadline the coordinator may have moved on, and a late
// report about an earlier job must not be taken for one about the current.

struct transfer_progress {
  std::string donor;
  uint64_t blocks_have = 0;
  uint64_t blocks_total = 0;
  uint64_t job = 0;
  /// The image's block size, so that status can say bytes and a rate.
  uint64_t block_size = 0;
};

struct donor_confirmed {
  std::string donor;
  uint64_t job = 0;
};

struct transfer_done {
  signed_manifest target;
  std::string donor;
  uint64_t blocks_pulled = 0;
  uint64_t blocks_reused = 0;
  /// Per block: held by the staging file (pulled, or staged before a restart); the others
  /// verified on the flash and stay there.
  std::vector<bool> staged;
  /// The blocks pulled, also kept in memory since they were verified (null when none are kept).
  std::shared_ptr<const verified_blocks> verified = {};
  uint64_t job = 0;
};

struct transfer_failed {
  std::string reason;
  uint64_t job = 0;
  /// Every donor tried answered busy (their slots are taken, none of them failed), and the
  /// shortest wait they asked for; 0 otherwise.
  uint32_t busy_retry_ms = 0;
};

/// The flasher's progress and outcome.
struct flash_progress {
  uint64_t sectors_done = 0;
  uint64_t sectors_total = 0;
  uint64_t job = 0;
  uint64_t sector_size = 0;
};

/// The host was just powered on (or released, or reset) by `cause`; its console output from
/// `console_offset` on is the new boot's. Sent to the boot watcher.
struct host_powered_on {
  std::string cause;
  uint64_t console_offset = 0;
};

struct flash_done {
  uint64_t sectors_written = 0;
  uint64_t sectors_total = 0;
  /// The check of the whole flash against the signed root after the last write.
  flash_report check;
  /// Milliseconds spent planning (reading the sectors to rewrite, checking their blocks),
  /// erasing and programming, and reading the image back for the final check (with any second
  /// writes of sectors that read back different, and the read after them).
  uint64_t plan_ms = 0;
  uint64_t write_ms = 0;
  uint64_t check_ms = 0;
  uint64_t job = 0;
  /// Set when bringing the host back started it: the boot to watch.
  std::optional<host_powered_on> host_started = {};
};

struct flash_failed {
  std::string reason;
  uint64_t job = 0;
  /// The flash was not touched (the failure came before the first erase): the staged image,
  /// not the chip, is in question.
  bool untouched = false;
};

/// A request to rewrite the flash from the staging file.
struct flash_job {
  signed_manifest target;
  std::string donor;
  /// transfer_done::staged; empty after a restart, when the flasher finds out block by block.
  std::vector<bool> staged = {};
  /// transfer_done::verified: staged blocks the flasher takes from memory without checking them
  /// again. Null after a restart.
  std::shared_ptr<const verified_blocks> verified = {};
  uint64_t job = 0;
};

struct node_context;

/// What the donor serves: a target's own image is (un)available. `target` is the context of
/// the target whose flash it is (its chip, store and component); null means the first target's.
struct own_image_state {
  bool servable = false;
  std::shared_ptr<const node_context> target = {};
};

/// An operator (Redfish SimpleUpdate) asks a target's coordinator to recover, or update, from
/// one image it names and from nothing else: the location holds that image only, and an
/// attempt that finds it wanting fails with the reason instead of trying recovery.sources.
/// The image passes the same rules and block checks as any other source's.
struct recover_from_location {
  std::shared_ptr<image_location> location;
  /// Why, for the log and status ("Redfish SimpleUpdate of https://fw.example/bios.fd").
  std::string reason;
};

/// The coordinator's answer to recover_from_location: whether a recovery started, its number
/// (status "recoveries", "recovery.number", "last_recovery.number"), and the reason when none
/// did.
struct recovery_started {
  bool started = false;
  uint64_t number = 0;
  std::string detail;
};

// -- boot watching -------------------------------------------------------------------------------

/// Power the host off and on again and watch the boot (a boot that failed with a flash that
/// verifies may have hung on something a power cycle clears). Sent to the boot watcher.
struct power_cycle {
  std::string reason;
};

/// The verdict on a watched boot. Sent to the coordinator.
struct boot_result {
  bool booted = false;
  /// "booted", "no_output" or "no_pattern".
  std::string outcome;
  /// What matched, or what the console showed last.
  std::string detail;
};

} // namespace fwrescue

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::host_powered_on)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::power_cycle)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::boot_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::datagram_event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::session_opened_event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::frame_event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::session_closed_event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::session_drained_event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::claim_session)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::flash_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::replacement_needed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::image_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::offers_collected)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::negotiation_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::transfer_progress)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::donor_confirmed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::transfer_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::transfer_failed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::flash_progress)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::flash_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::flash_failed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::flash_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::own_image_state)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::partial_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::donor_dropped)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::recover_from_location)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fwrescue::recovery_started)
