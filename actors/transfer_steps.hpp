#pragma once

// The steps of the transfer actor, shared by its two files: transfer_handshake.cpp takes donors
// up (connecting, accepting, racing the next one), transfer.cpp pulls from the one that
// confirmed. Only those two files include this.

#include <string>

#include "actors/transfer.hpp"

namespace fwrescue::transfer_steps {

using self_ptr = caf::stateful_actor<transfer_state>*;

using race_atom = caf::atom_constant<caf::atom("race")>;
using handshake_atom = caf::atom_constant<caf::atom("handshake")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;

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

/// Starts the next candidates as far as the parallel bound and the stagger allow; with no
/// donor confirmed, none pending and none left, the job fails with every reason heard.
void race(self_ptr self);

/// Events of sessions that are handshakes; each returns false when `id` is not one.
bool handshake_opened(self_ptr self, session_id id);
bool handshake_message(self_ptr self, session_message& sm);
bool handshake_closed(self_ptr self, session_id id, const std::string& reason);

/// A handshake's deadline timer fired.
void handshake_deadline(self_ptr self, session_id id);

// -- pulling (transfer.cpp) ----------------------------------------------------------------------

/// `d` confirmed on session `id`: it becomes the donor pulled from.
void begin_pull(self_ptr self, session_id id, candidate d);

/// Every block digest of the target is known: checks they build the signed root, finds the
/// blocks already present and starts pulling the others (or finishes).
void digests_complete(self_ptr self);

/// Gives up on the current donor and moves on to the next one.
void drop_donor(self_ptr self, const std::string& reason, bool bad_block = false);

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

/// Turns a zstd-compressed run into its blocks, bounded by the blocks outstanding from its
/// first (and never more than one frame's worth); a raw run is left as it is.
caf::error expand_run(const transfer_state& st, block_data& b);

/// Gives up on a donor, current or not yet confirmed, and lets the coordinator know. `bad_block`
/// marks a donor that sent data failing verification.
void record_failure(self_ptr self, const std::string& donor, const std::string& reason,
                    bool bad_block = false);

} // namespace fwrescue::transfer_steps
