#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "image/keys.hpp"
#include "messages/manifest.hpp"
#include "messages/node.hpp"
#include "messages/revocation.hpp"

namespace fwrescue {

/// The wire protocol version this build speaks. A message carrying another version is answered
/// with a `refusal`.
constexpr uint16_t protocol_version = 2;

/// Random per-request challenge; offers and accepts echo it, so old ones cannot be replayed.
using nonce = std::array<uint8_t, 16>;

/// Recipient -> everyone (datagram): "who has an image for this platform?"
struct image_request {
  uint64_t request_id = 0;
  nonce challenge{};
  /// Node id of the recipient.
  std::string requester;
  platform_id platform;
  /// Lowest svn the recipient will accept (its anti-rollback floor).
  uint32_t min_svn = 0;
  /// Serial of the newest revocation list the recipient holds (0: none).
  uint64_t revocation_serial = 0;
  /// Roots of images that failed to boot on the recipient's host (at most max_excluded_roots):
  /// a donor does not offer them, and the recipient refuses them whoever does.
  std::vector<digest> exclude_roots = {};
  /// The firmware target the image is for (valid_component); a donor offers only images whose
  /// manifest names it.
  std::string component = default_component;
};

/// The most roots an image request may exclude: the request stays one small datagram.
constexpr size_t max_excluded_roots = 8;

/// The signed part of an offer.
struct offer_fields {
  uint64_t request_id = 0;
  nonce challenge{};
  /// Node id of the donor and its identity key; the offer is signed with that key.
  std::string donor;
  public_key donor_key;
  node_role role = node_role::peer;
  /// Uploads in progress and the most the donor allows at once.
  uint32_t active_uploads = 0;
  uint32_t max_uploads = 0;
  /// Where the recipient opens a session to take the offer (transport address).
  std::string session_address;
  /// The offered image's signed manifest (body and signature; block digests travel later).
  std::vector<uint8_t> manifest_body;
  signature manifest_sig{};
  /// Serial of the newest revocation list the donor holds (0: none).
  uint64_t revocation_serial = 0;
  /// The blocks the donor holds, verified, as an encoded block_set (image/block_set.hpp);
  /// empty: the whole image. At most wire_limits::max_offer_holds bytes.
  std::vector<uint8_t> holds{};
};

/// Donor -> recipient (datagram, answering the request's sender).
struct offer {
  /// Encoded offer_fields: exactly what `sig` covers.
  std::vector<uint8_t> body;
  signature sig{};
  offer_fields fields;
};

/// The signed part of an accept.
struct accept_fields {
  uint64_t request_id = 0;
  nonce challenge{};
  std::string recipient;
  public_key recipient_key;
  /// Which of the donor's images: its manifest's Merkle root.
  digest merkle_root{};
  /// The donor being taken up; a donor refuses an accept naming another node's key.
  public_key donor_key;
  /// The donor may compress block runs with zstd (block_encoding::zstd).
  bool accepts_zstd = false;
  /// No `leaves` are wanted: the recipient holds the digests or asks for tree nodes.
  bool no_leaves = false;
  /// Blocks of the image the recipient holds already (slots go to those holding the fewest).
  uint64_t blocks_held = 0;
};

/// Recipient -> donor (first frame of a session).
struct accept {
  std::vector<uint8_t> body;
  signature sig{};
  accept_fields fields;
};

/// Donor -> recipient: the transfer may start; block digests follow in `leaves` frames.
struct confirm {
  uint64_t request_id = 0;
  /// The accept asked for no leaves and none follow; node requests are answered. False from a
  /// donor that does not know the field: leaves follow.
  bool leaves_omitted = false;
};

/// Donor -> recipient: at its upload limit; try another donor or later.
struct busy {
  uint64_t request_id = 0;
  uint32_t retry_after_ms = 0;
};

/// Donor -> recipient: will not serve this accept (unknown image, bad signature, stale nonce).
struct decline {
  uint64_t request_id = 0;
  std::string reason;
};

/// Donor -> recipient: block digests [first, first + digests.size()) of the accepted image. The
/// recipient trusts them once all have arrived and they build the signed root.
struct leaves {
  uint64_t first = 0;
  std::vector<digest> digests;
};

/// Recipient -> donor: send blocks [first, first + count).
struct block_request {
  uint64_t first = 0;
  uint32_t count = 1;
};

/// How a block_data holds its run of blocks.
enum class block_encoding : uint8_t {
  /// The blocks themselves, concatenated.
  raw = 0,
  /// One zstd frame holding them; sent only to a recipient whose accept took zstd.
  zstd = 1,
};

/// Donor -> recipient: blocks [first, first + k), k >= 1, whole and concatenated.
struct block_data {
  uint64_t first = 0;
  std::vector<uint8_t> bytes;
  block_encoding encoding = block_encoding::raw;
};

/// Recipient -> donor: send nodes [first, first + count) of one level of the accepted image's
/// Merkle tree (level 0: the block digests; merkle_tree numbers the levels the same way).
struct node_request {
  uint8_t level = 0;
  uint64_t first = 0;
  uint32_t count = 1;
};

/// Donor -> recipient: nodes [first, first + digests.size()) of one level, answering a
/// node_request. The recipient checks each pair against its parent, verified before.
struct nodes {
  uint8_t level = 0;
  uint64_t first = 0;
  std::vector<digest> digests;
};

/// Donor -> recipient: the blocks of a partially held image the donor holds now, as an encoded
/// block_set (image/block_set.hpp).
struct holdings {
  std::vector<uint8_t> blocks;
};

/// The most block bytes a donor puts in one block_data (always at least one whole block).
constexpr size_t block_data_bytes = 64 * 1024;

/// Recipient -> donor: every block arrived; the session ends.
struct done {};

/// Either side: the transfer stops, with a reason a person can read.
struct abort_transfer {
  std::string reason;
};

/// Answer to a message in a protocol version this node does not speak.
struct refusal {
  uint16_t supported_version = protocol_version;
  std::string reason;
};

/// Donor -> recipient (datagram): a revocation list newer than the one the request named. Its
/// signature is checked by the recipient against its revocation keys, as for any list.
struct revocation_notice {
  signed_revocations list;
};

/// Bounds of the fleet exchange (docs/fleet.md): one datagram each way, an answer never larger
/// than the query that caused it.
namespace fleet_limits {
/// The most bytes an encoded fleet answer may take, and the least an encoded query pads to: both
/// fit a datagram on every link (1400 bytes) with room to spare.
constexpr size_t max_datagram = 1280;
constexpr size_t max_targets = 8;
constexpr size_t max_links = 8;
/// Every text of a fleet message (node ids, names, versions, states).
constexpr size_t max_text = 64;
} // namespace fleet_limits

/// The signed part of a fleet query.
struct fleet_query_fields {
  uint64_t query_id = 0;
  nonce challenge{};
  /// Node id of the node asking and its key; the query is signed with that key.
  std::string asker;
  public_key asker_key;
  /// Zero bytes of padding (make_fleet_query sizes them so the query reaches
  /// fleet_limits::max_datagram).
  uint32_t padding = 0;

  friend bool operator==(const fleet_query_fields&, const fleet_query_fields&) = default;
};

/// Any node -> everyone (datagram): who is there, and what do its targets hold?
struct fleet_query {
  std::vector<uint8_t> body;
  signature sig{};
  fleet_query_fields fields;
};

/// A link of an answering node.
struct fleet_link {
  std::string name;
  bool up = false;

  friend bool operator==(const fleet_link&, const fleet_link&) = default;
};

/// One firmware target of an answering node.
struct fleet_target {
  std::string name;
  std::string component;
  /// The installed image; an empty version means none is recorded (svn and root are then 0).
  std::string version;
  uint32_t svn = 0;
  std::optional<digest> root;
  /// The recovery phase ("idle", "transferring", "done").
  std::string state;
  /// The last recovery: "succeeded", "failed", or empty when there was none.
  std::string last_outcome;
  uint64_t last_number = 0;
  /// When it finished, seconds since the epoch.
  int64_t last_at = 0;

  friend bool operator==(const fleet_target&, const fleet_target&) = default;
};

/// The signed part of a fleet answer.
struct fleet_answer_fields {
  uint64_t query_id = 0;
  nonce challenge{};
  std::string node;
  public_key node_key;
  node_role role = node_role::peer;
  std::vector<fleet_link> links;
  std::vector<fleet_target> targets;
  /// Targets were left out so the answer stays within the query's size.
  bool truncated = false;

  friend bool operator==(const fleet_answer_fields&, const fleet_answer_fields&) = default;
};

/// A node -> the asker (datagram, over the link the query came on).
struct fleet_answer {
  std::vector<uint8_t> body;
  signature sig{};
  fleet_answer_fields fields;
};

using wire_message =
  std::variant<image_request, offer, accept, confirm, busy, decline, leaves, block_request,
               block_data, done, abort_transfer, refusal, revocation_notice, node_request, nodes,
               holdings,
               fleet_query, fleet_answer>;

/// Limits every decoder enforces. They bound what an untrusted peer can make us allocate.
namespace wire_limits {
/// A LAN frame's limit: room for a block_data carrying the largest (1 MiB) block.
constexpr size_t max_message = 2u << 20;
constexpr size_t max_leaves_per_message = 16384;
/// The most nodes one node_request asks for and one nodes message carries.
constexpr size_t max_nodes_per_message = 16384;
/// Tree levels a node_request may name: a tree of 2^32 leaves has 33.
constexpr size_t max_tree_levels = 64;
constexpr size_t max_text = 256;
/// An offer's block set rides in a datagram; a holdings message in a session frame.
constexpr size_t max_offer_holds = 512;
constexpr size_t max_holdings = 4096;
} // namespace wire_limits

/// Encodes a message with the current protocol version.
std::vector<uint8_t> encode(const wire_message& m);

/// Encodes block_data{first, bytes} as encode() does, byte for byte, with the `length` bytes
/// written in place by `fill`, inside the encoded message: a donor reads its image straight into
/// the frame it sends, with no copy in between. An error from `fill` is returned instead.
caf::expected<std::vector<uint8_t>>
encode_block_data(uint64_t first, size_t length,
                  const std::function<caf::error(std::span<uint8_t>)>& fill);

/// Decodes a message from untrusted bytes. A message of another protocol version is
/// errc::unsupported_version naming the version; anything else malformed is errc::malformed.
/// Offers and accepts are decoded but their signatures are not checked here.
caf::expected<wire_message> decode(std::span<const uint8_t> bytes);

/// Whether `bytes` hold a refusal, in any protocol version. Every version keeps the envelope's
/// first word (version, then message kind), so a refusal from a node of another version is
/// recognised; it must never be answered with a refusal.
bool is_refusal(std::span<const uint8_t> bytes);

/// Builds a signed offer / accept.
offer make_offer(offer_fields fields, const secret_key& key);
accept make_accept(accept_fields fields, const secret_key& key);

/// Builds a signed fleet query, padded so that its encoding is at least
/// fleet_limits::max_datagram bytes (`fields.padding` is set here).
fleet_query make_fleet_query(fleet_query_fields fields, const secret_key& key);

/// Builds a signed fleet answer whose encoding is at most `max_bytes` (at most
/// fleet_limits::max_datagram): targets past the bounds, or that do not fit, are left out and
/// the answer says `truncated`. An error when even the answer without targets does not fit.
caf::expected<fleet_answer> make_fleet_answer(fleet_answer_fields fields, const secret_key& key,
                                              size_t max_bytes);
bool verify_fleet_query(const fleet_query& q);
bool verify_fleet_answer(const fleet_answer& a);

/// Checks an offer's signature against the key it names. A valid signature proves the offer
/// comes from the holder of `fields.donor_key`; it says nothing about the manifest, which is
/// checked against the trusted signing keys separately.
bool verify_offer(const offer& o);
bool verify_accept(const accept& a);

/// The offered manifest as a signed_manifest (no block digests).
caf::expected<signed_manifest> offered_manifest(const offer& o);

/// Short name of a message kind for logs ("offer", "block_data").
const char* kind_name(const wire_message& m);

} // namespace fwrescue
