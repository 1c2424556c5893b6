#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "actors/router.hpp"
#include "image/block_set.hpp"
#include "image/merkle.hpp"
#include "image/partial_image.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

/// An image this node can serve: a catalog file, its own flash, or an image one of its targets
/// is still pulling (only the blocks verified so far).
struct served_image {
  std::string label;
  signed_manifest manifest;
  /// Empty for the node's own flash.
  std::string path;
  /// For the node's own flash: the flash of the target it is (a node may have several).
  std::shared_ptr<flash> chip = {};
  /// For an image being recovered here: the blocks verified so far, read through it.
  std::shared_ptr<partial_image> partial = {};
};

struct donor_state {
  struct sent_offer {
    nonce challenge{};
    std::chrono::steady_clock::time_point expires;
    /// The component the request asked for: an accept takes up only an image of it.
    std::string component;
    /// Taken up by an accept: by which recipient, on which session, over which link. One
    /// session holds an offer at a time; only the same recipient over another link (its first
    /// link died) may take it up again, which ends the session on the first.
    bool taken = false;
    public_key recipient{};
    session_id session = 0;
    std::string link{};
  };
  struct upload {
    std::string peer;
    /// Shared, so an upload in progress keeps its image even if the node stops offering it.
    std::shared_ptr<const served_image> image;
    bool confirmed = false;
    /// Block requests not yet answered in full, oldest first, and how many blocks they ask for
    /// (at most limits.requested_blocks).
    std::deque<block_request> pending;
    uint64_t pending_blocks = 0;
    /// Block bytes handed to the link in all, and when the watchdog last looked.
    uint64_t sent = 0;
    uint64_t sent_at_check = 0;
    /// The answer waits for the link to drain, or for its turn under the upload rate cap.
    bool awaiting_drain = false;
    bool awaiting_cap = false;
    /// When the session opened, for the watchdog.
    std::chrono::steady_clock::time_point opened{};
    /// The accept took zstd: block runs are compressed when that makes them smaller.
    bool compress = false;
    /// The accept asked for no leaves; the recipient may ask for tree nodes instead.
    bool leaves_omitted = false;
    /// The served image's Merkle tree, built at the first node request; and the nodes sent so
    /// far, at most as many as the tree holds (each node once, for an honest recipient).
    std::shared_ptr<const merkle_tree> tree;
    uint64_t nodes_sent = 0;
    /// The accept's request id, for a busy when the slot goes to a recipient holding fewer
    /// blocks; when it was confirmed; the blocks the recipient said it held and the blocks sent
    /// to it since: together about what it holds now.
    uint64_t request_id = 0;
    std::chrono::steady_clock::time_point confirmed_at{};
    uint64_t blocks_held = 0;
    uint64_t blocks_sent = 0;
    /// Serving a partial image: the blocks the recipient was told of (what it may ask for).
    block_set told;
  };

  context_ptr ctx;
  std::vector<std::shared_ptr<const served_image>> catalog;
  /// Each target's own image, by target index, when its monitor says its flash matches its
  /// manifest.
  std::map<uint32_t, std::shared_ptr<const served_image>> own;
  /// Offers that an accept may take up, by request id; at most limits.offers_remembered, and
  /// each taken up once.
  std::map<uint64_t, sent_offer> offers;
  std::map<session_id, upload> uploads;
  /// The image each target is pulling, as far as verified, by target index (partial_update).
  std::map<uint32_t, std::shared_ptr<const served_image>> partials;
  /// The timer that tells recipients of partial images that the set has grown is running.
  bool holdings_timer = false;
  /// With an upload rate cap: when the link is free for the next block, the uploads waiting
  /// for it in turn (each at most once), and whether the timer for the next turn runs.
  std::chrono::steady_clock::time_point next_free{};
  std::deque<session_id> cap_turns;
  bool cap_timer = false;

  uint32_t active_uploads() const;
  static inline const char* name = "donor";
};

/// Answers image requests with signed offers for every compatible image it holds, admits up to
/// donor.max_uploads sessions (Busy beyond that), sends the accepted image's block digests
/// (unless the accept asked for none: then it answers requests for tree nodes), then serves the
/// blocks it is asked for, compressed with zstd when the accept took it and that is smaller.
/// While one of the node's targets is itself pulling an image, the blocks verified so far are
/// offered and served too, and their recipients told as the set grows (docs/protocol.md). With
/// every slot taken, a recipient holding far fewer blocks than a served one takes its slot.
///
/// A recipient can make it spend only so much: an offer is taken up once; an upload session
/// must send its accept within limits.handshake_ms and then keep asking for blocks and reading
/// them (at least limits.min_rate_kbps over each limits.idle_ms), or it is ended; blocks asked
/// for and not yet sent are bounded by limits.requested_blocks; and blocks are read and sent
/// only while the session's send queue is below half of limits.queued_kib.
caf::behavior donor(caf::stateful_actor<donor_state>* self, context_ptr ctx);

/// Loads and checks the catalog images of the configuration; images that do not verify are
/// left out with an error in the log.
std::vector<std::shared_ptr<const served_image>> load_catalog(const node_context& ctx);

} // namespace fwrescue
