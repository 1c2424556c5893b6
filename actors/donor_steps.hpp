#pragma once

// The steps of the donor actor, shared by its two files: donor.cpp answers requests and takes
// accepts up, donor_upload.cpp serves the blocks of confirmed uploads within their bounds. Only
// those two files include this.

#include <string>

#include "actors/donor.hpp"

namespace fwrescue::donor_steps {

using self_ptr = caf::stateful_actor<donor_state>*;

using serve_atom = caf::atom_constant<caf::atom("serve")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;

void send_frame(self_ptr self, session_id id, const wire_message& m);

/// Ends an upload: says why to the peer (best effort) and closes the session; its slot is free
/// at once.
void end_upload(self_ptr self, session_id id, const std::string& reason);

/// Sends the blocks the upload has been asked for, while the link and the rate cap allow.
void pump(self_ptr self, session_id id);

void on_block_request(self_ptr self, session_id id, const block_request& r);

/// Answers a request for nodes of the served image's Merkle tree, or ends the upload when the
/// nodes do not exist or the session has asked for more than the whole tree.
void on_node_request(self_ptr self, session_id id, const node_request& r);

/// The upload's watchdog fired (every limits.idle_ms).
void watch(self_ptr self, session_id id);

} // namespace fwrescue::donor_steps
