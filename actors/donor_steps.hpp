#pragma once

// The steps of the donor actor, shared by its files: donor.cpp answers requests and takes
// accepts up, donor_upload.cpp serves the blocks of confirmed uploads within their bounds,
// donor_partial.cpp offers and serves the image a target is still pulling, and donor_slots.cpp
// gives a taken slot to a recipient holding far fewer blocks. Only those files include this.

#include <string>

#include "actors/donor.hpp"

namespace fwrescue::donor_steps {

using self_ptr = caf::stateful_actor<donor_state>*;

using serve_atom = caf::atom_constant<caf::atom("serve")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using holdings_atom = caf::atom_constant<caf::atom("holdings")>;

void send_frame(self_ptr self, session_id id, const wire_message& m);

/// Ends an upload: says why to the peer (best effort) and closes the session; its slot is free
/// at once.
void end_upload(self_ptr self, session_id id, const std::string& reason);

/// Sends the blocks the upload has been asked for, while the link and the rate cap allow.
void pump(self_ptr self, session_id id);

/// The upload rate cap's timer fired: the uploads waiting for it send a frame each, in turn.
void next_turn(self_ptr self);

void on_block_request(self_ptr self, session_id id, const block_request& r);

/// Answers a request for nodes of the served image's Merkle tree, or ends the upload when the
/// nodes do not exist or the session has asked for more than the whole tree.
void on_node_request(self_ptr self, session_id id, const node_request& r);

/// The upload's watchdog fired (every limits.idle_ms).
void watch(self_ptr self, session_id id);

/// Counts `bytes` sent outside block frames (digests, tree nodes) against the upload rate cap,
/// so that the cap holds for everything an upload sends.
void charge(self_ptr self, uint64_t bytes);

// -- partial images (donor_partial.cpp) ----------------------------------------------------------

/// Keeps, replaces or forgets the image a target is pulling; uploads of an image replaced or
/// forgotten end.
void on_partial_update(self_ptr self, partial_update& u);

/// The partial images to offer besides `full` (own flash and catalog): those of which no full
/// copy is offered already, each root once.
std::vector<std::shared_ptr<const served_image>>
partials_to_offer(const donor_state& st,
                  const std::vector<std::shared_ptr<const served_image>>& full);

/// The offer of `img` to `to`, signed and encoded. For a partial image it says which blocks are
/// held (even none yet: the set grows), cut to a true subset where the whole set would not fit
/// the datagram limit of the link it goes out on.
std::vector<uint8_t> signed_offer(const node_context& ctx, const std::string& to, offer_fields f,
                                  const served_image& img);

/// A partial upload was confirmed: tells the recipient which blocks it may ask for, and keeps
/// it told while the set grows.
void start_partial_upload(self_ptr self, session_id id);

/// Why `r` must not be served from the upload's partial image, or an empty string.
std::string outside_holdings(const donor_state::upload& up, const block_request& r);

/// Every ~250 ms while partial images are served: sends each such upload the set held when it
/// grew, and ends the uploads of an image that was invalidated.
void holdings_tick(self_ptr self);

// -- fair slots (donor_slots.cpp) ----------------------------------------------------------------

/// With every slot taken, frees the slot of the served recipient holding the most blocks when
/// `a`'s recipient holds fewer by an eighth of `img`'s blocks (and that upload has run a
/// second); whether a slot was freed.
bool preempt_for(self_ptr self, const accept& a, const served_image& img);

} // namespace fwrescue::donor_steps
