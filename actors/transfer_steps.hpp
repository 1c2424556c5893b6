#pragma once

// The steps of the transfer actor, shared by its files: transfer_handshake.cpp takes donors up
// (connecting, accepting, racing the next one), transfer_pull.cpp asks the donors that
// confirmed for blocks and stages what verifies, transfer.cpp holds the actor and its messages.
// Only the transfer's own files include this.

#include <string>

#include "actors/transfer.hpp"

namespace fwrescue::transfer_steps {

using self_ptr = caf::stateful_actor<transfer_state>*;

using race_atom = caf::atom_constant<caf::atom("race")>;
using handshake_atom = caf::atom_constant<caf::atom("handshake")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;

/// Whether two offers are of one image: the same signed manifest, not just the same blocks
/// (one image's bytes may be signed as two releases, with different svns).
inline bool same_image(const signed_manifest& a, const signed_manifest& b) {
  return a.fields.merkle_root == b.fields.merkle_root && a.body == b.body;
}

/// The donor the digests come through (null once they are known).
transfer_state::puller* lead(transfer_state& st);

void tell_coordinator(self_ptr self, caf::message msg);

/// Sends `m` on session `id`.
void send_on(self_ptr self, session_id id, const wire_message& m);

// -- taking donors up (transfer_handshake.cpp) ---------------------------------------------------

/// Starts a job: forgets the previous one and starts the first donor.
void start_job(self_ptr self, transfer_job& job);
/// Once the digests are known: finds what the staging file and the flash already hold, readies
/// the staging file, and records the transfer in the journal (transfer_staging.cpp).
caf::error prepare_staging(self_ptr self);

/// Ends a job the coordinator gave up: its sessions close, and nothing starts a donor after it.
void cancel_job(self_ptr self, const transfer_cancel& c);

/// Candidates from a fresh request while pulling: those offering the image being pulled join
/// the queue.
void take_more(self_ptr self, more_candidates& m);

/// Starts the next candidates as far as recovery.max_donors, the parallel bound and the stagger
/// allow; with no donor pulled from, none pending and none left, the job fails with every
/// reason heard.
void race(self_ptr self);

/// Events of sessions that are handshakes; each returns false when `id` is not one.
bool handshake_opened(self_ptr self, session_id id);
bool handshake_message(self_ptr self, session_message& sm);
bool handshake_closed(self_ptr self, session_id id, const std::string& reason);

/// A handshake's deadline timer fired.
void handshake_deadline(self_ptr self, session_id id);

// -- pulling (transfer.cpp, transfer_pull.cpp) ---------------------------------------------------

/// `d` confirmed on session `id`, its accept having asked for `plan` and `compress`: it joins
/// the donors pulled from, and leads (the digests come through it) when it is the first.
void begin_pull(self_ptr self, session_id id, candidate d, transfer_state::digest_plan plan,
                bool compress);

/// Every block digest of the target is known: checks they build the signed root, finds the
/// blocks already present and starts pulling the others (or finishes).
void digests_complete(self_ptr self);

/// Gives up on donor `id`; its runs go back to the others, and the next candidate may start.
/// `session_open`: tell it why and close the session (not when the session is already gone).
void drop_puller(self_ptr self, session_id id, const std::string& reason, bool bad_block = false,
                 bool session_open = true);

/// Blocks kept requested from donor `p`: the configured window, or less on a slow link.
uint32_t window_of(const transfer_state& st, const transfer_state::puller& p);

/// Pushes donor `id`'s deadline to its block timeout from now (transfer_watch.cpp).
void extend_deadline(self_ptr self, session_id id, transfer_state::puller& p);

/// Asks the coordinator for fresh offers when fewer donors than recovery.max_donors are pulled
/// from and no candidate is left (at most once per three discovery windows).
void ask_for_more(self_ptr self);

/// Asks donor `id` for more blocks, as far as its window allows; fill_all for every donor.
void fill_window(self_ptr self, session_id id);
void fill_all(self_ptr self);

/// Session frames of a donor being pulled from.
void on_blocks(self_ptr self, session_id id, block_data& b);
void on_verified(self_ptr self, run_verified& r);
void on_holdings(self_ptr self, session_id id, const holdings& h);

/// A donor's deadline timer fired (transfer_watch.cpp).
void check_deadline(self_ptr self, session_id id, uint64_t serial);

/// Offers the image being pulled to peers as far as it is verified (from the staging step),
/// and withdraws it (the job moved to another image, or the recovery failed). Kept across
/// attempts of one image; handed over, not withdrawn, when the image is whole.
void publish_partial(self_ptr self);
void withdraw_partial(self_ptr self);
/// Stops serving the image last handed to the flasher, if the donor still serves it.
void withdraw_handed_over(self_ptr self);

// -- learning the digests without leaves (transfer_tree.cpp) ------------------------------------

/// How the digests of `d`'s image will be learnt, as the accept to `d` announces it.
transfer_state::digest_plan plan_digests(self_ptr self, const candidate& d);

/// Whether the accept on session `id` asks for zstd-compressed blocks: the session's link is
/// slower than recovery.compress_below_kbps.
bool wants_compression(self_ptr self, session_id id);

/// The current donor confirmed: starts the plan (for leaves, waits for them).
void start_digests(self_ptr self);

/// Nodes of the donor's tree, answering the walk's requests.
void on_nodes(self_ptr self, const nodes& n);

/// Turns a zstd-compressed run from donor `p` into its blocks, bounded by the blocks
/// outstanding at it from its first (and never more than one frame's worth); a raw run is left
/// as it is.
caf::error expand_run(const transfer_state& st, const transfer_state::puller& p, block_data& b);

/// Gives up on a donor, current or not yet confirmed, and lets the coordinator know. `bad_block`
/// marks a donor that sent data failing verification.
void record_failure(self_ptr self, const std::string& donor, const std::string& reason,
                    bool bad_block = false);

} // namespace fwrescue::transfer_steps
