// The reading half of the wire codec: every message from an untrusted peer is bounded and
// checked field by field before anything acts on it.

#include <algorithm>
#include <limits>
#include <string_view>

#include <capnp/serialize.h>
#include <kj/exception.h>

#include "messages/protocol_codec.hpp"

namespace fwrescue::codec {

namespace {

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

} // namespace

// ---- fields (may throw kj::Exception; called only inside `parse`) ----

caf::error read_text(const char* field, capnp::Text::Reader in, text_rule rule, std::string& out,
                     size_t limit) {
  if (in.size() > limit)
    return malformed(fmt::format("{} is {} bytes long, the limit is {}", field, in.size(), limit));
  if (rule == text_rule::required && in.size() == 0)
    return malformed(fmt::format("{} is empty", field));
  std::string_view view{in.cStr(), in.size()};
  if (!printable(view))
    return malformed(fmt::format("{} holds characters other than printable ASCII", field));
  out.assign(view);
  return caf::none;
}

caf::expected<offer_fields> decode_offer_body(std::span<const uint8_t> bytes) {
  auto read = [](capnp::MessageReader& reader) -> caf::expected<offer_fields> {
    auto root = reader.getRoot<schema::SignedBody>();
    if (root.which() != schema::SignedBody::OFFER)
      return malformed(fmt::format("offer.body holds signed body kind {}, not an offer",
                                   static_cast<unsigned>(root.which())));
    auto in = root.getOffer();
    offer_fields out;
    out.request_id = in.getRequestId();
    if (auto err = read_fixed("offer.nonce", in.getNonce(), out.challenge))
      return err;
    if (auto err = read_text("offer.donor", in.getDonor(), text_rule::required, out.donor))
      return err;
    if (auto err = read_fixed("offer.donor_key", in.getDonorKey(), out.donor_key.bytes))
      return err;
    // Check the wire value before narrowing it, so 256 cannot pass as 0.
    auto role = static_cast<uint16_t>(in.getRole());
    if (role > static_cast<uint16_t>(node_role::console))
      return malformed(fmt::format("offer.role {} is unknown", role));
    out.role = static_cast<node_role>(role);
    out.active_uploads = in.getActiveUploads();
    out.max_uploads = in.getMaxUploads();
    if (auto err = read_text("offer.session_address", in.getSessionAddress(), text_rule::required,
                             out.session_address))
      return err;
    auto manifest_body = in.getManifestBody();
    // decode_body checks the size before anything else, so the copy below is bounded.
    if (auto m = decode_body(manifest_body); !m)
      return malformed("offer.manifest_body: " + describe(m.error()));
    out.manifest_body.assign(manifest_body.begin(), manifest_body.end());
    if (auto err = read_fixed("offer.manifest_sig", in.getManifestSignature(), out.manifest_sig))
      return err;
    out.revocation_serial = in.getRevocationSerial();
    auto holds = in.getHolds();
    if (holds.size() > wire_limits::max_offer_holds)
      return malformed(fmt::format("offer.holds is {} bytes; at most {}", holds.size(),
                                   wire_limits::max_offer_holds));
    out.holds.assign(holds.begin(), holds.end());
    return out;
  };
  return parse<offer_fields>(bytes, max_signed_body, "offer.body", read);
}

caf::expected<accept_fields> decode_accept_body(std::span<const uint8_t> bytes) {
  auto read = [](capnp::MessageReader& reader) -> caf::expected<accept_fields> {
    auto root = reader.getRoot<schema::SignedBody>();
    if (root.which() != schema::SignedBody::ACCEPT)
      return malformed(fmt::format("accept.body holds signed body kind {}, not an accept",
                                   static_cast<unsigned>(root.which())));
    auto in = root.getAccept();
    accept_fields out;
    out.request_id = in.getRequestId();
    if (auto err = read_fixed("accept.nonce", in.getNonce(), out.challenge))
      return err;
    if (auto err =
          read_text("accept.recipient", in.getRecipient(), text_rule::required, out.recipient))
      return err;
    if (auto err =
          read_fixed("accept.recipient_key", in.getRecipientKey(), out.recipient_key.bytes))
      return err;
    if (auto err = read_fixed("accept.merkle_root", in.getMerkleRoot(), out.merkle_root))
      return err;
    if (auto err = read_fixed("accept.donor_key", in.getDonorKey(), out.donor_key.bytes))
      return err;
    out.accepts_zstd = in.getAcceptsZstd();
    out.no_leaves = in.getNoLeaves();
    out.blocks_held = in.getBlocksHeld();
    return out;
  };
  return parse<accept_fields>(bytes, max_signed_body, "accept.body", read);
}

namespace {

std::span<const uint8_t> as_span(capnp::Data::Reader data) {
  return {data.begin(), data.size()};
}

// ---- one reader per message kind ----

caf::error read(schema::ImageRequest::Reader in, image_request& out) {
  out.request_id = in.getRequestId();
  if (auto err = read_fixed("image_request.nonce", in.getNonce(), out.challenge))
    return err;
  if (auto err =
        read_text("image_request.requester", in.getRequester(), text_rule::required, out.requester))
    return err;
  auto platform = in.getPlatform();
  if (auto err = read_text("image_request.platform.vendor", platform.getVendor(),
                           text_rule::required, out.platform.vendor))
    return err;
  if (auto err = read_text("image_request.platform.board", platform.getBoard(), text_rule::required,
                           out.platform.board))
    return err;
  out.min_svn = in.getMinSvn();
  out.revocation_serial = in.getRevocationSerial();
  auto roots = in.getExcludeRoots();
  if (roots.size() > max_excluded_roots)
    return malformed(fmt::format("image_request.exclude_roots holds {} roots; at most {}",
                                 roots.size(), max_excluded_roots));
  out.exclude_roots.resize(roots.size());
  for (unsigned i = 0; i < roots.size(); ++i)
    if (auto err = read_fixed("image_request.exclude_roots[]", roots[i], out.exclude_roots[i]))
      return err;
  // A request from a node of an earlier release names no component: those recover the BIOS.
  if (in.hasComponent()) {
    auto component = in.getComponent();
    std::string_view view{component.cStr(), component.size()};
    if (!valid_component(view))
      return malformed(fmt::format("image_request.component is not 1 to {} characters of a-z, "
                                   "0-9 and '-'",
                                   manifest_limits::max_component));
    out.component.assign(view);
  }
  return caf::none;
}

caf::error read(schema::Offer::Reader in, offer& out) {
  if (auto err = read_fixed("offer.signature", in.getSignature(), out.sig))
    return err;
  auto body = in.getBody();
  auto fields = decode_offer_body(as_span(body));
  if (!fields)
    return std::move(fields.error());
  out.fields = std::move(*fields);
  out.body.assign(body.begin(), body.end());
  return caf::none;
}

caf::error read(schema::Accept::Reader in, accept& out) {
  if (auto err = read_fixed("accept.signature", in.getSignature(), out.sig))
    return err;
  auto body = in.getBody();
  auto fields = decode_accept_body(as_span(body));
  if (!fields)
    return std::move(fields.error());
  out.fields = std::move(*fields);
  out.body.assign(body.begin(), body.end());
  return caf::none;
}

caf::error read(schema::FleetQuery::Reader in, fleet_query& out) {
  if (auto err = read_fixed("fleet_query.signature", in.getSignature(), out.sig))
    return err;
  auto body = in.getBody();
  auto fields = decode_fleet_query_body(as_span(body));
  if (!fields)
    return std::move(fields.error());
  out.fields = std::move(*fields);
  out.body.assign(body.begin(), body.end());
  return caf::none;
}

caf::error read(schema::FleetAnswer::Reader in, fleet_answer& out) {
  if (auto err = read_fixed("fleet_answer.signature", in.getSignature(), out.sig))
    return err;
  auto body = in.getBody();
  auto fields = decode_fleet_answer_body(as_span(body));
  if (!fields)
    return std::move(fields.error());
  out.fields = std::move(*fields);
  out.body.assign(body.begin(), body.end());
  return caf::none;
}

caf::error read(schema::Confirm::Reader in, confirm& out) {
  out.request_id = in.getRequestId();
  out.leaves_omitted = in.getLeavesOmitted();
  return caf::none;
}

caf::error read(schema::Busy::Reader in, busy& out) {
  out.request_id = in.getRequestId();
  out.retry_after_ms = in.getRetryAfterMs();
  return caf::none;
}

caf::error read(schema::Decline::Reader in, decline& out) {
  out.request_id = in.getRequestId();
  return read_text("decline.reason", in.getReason(), text_rule::optional, out.reason);
}

/// Reads a list of 1..`limit` digests starting at index `first`, whose end must not overflow.
caf::error read_digests(const char* kind, uint64_t first, capnp::Data::Reader bytes, size_t limit,
                        std::vector<digest>& out) {
  if (bytes.size() % sizeof(digest) != 0)
    return malformed(fmt::format("{}.digests is {} bytes, not a multiple of {}", kind, bytes.size(),
                                 sizeof(digest)));
  auto n = bytes.size() / sizeof(digest);
  if (n == 0)
    return malformed(fmt::format("{}.digests is empty", kind));
  if (n > limit)
    return malformed(fmt::format("{}.digests holds {} digests, the limit is {}", kind, n, limit));
  if (first > std::numeric_limits<uint64_t>::max() - n)
    return malformed(fmt::format("{}.first {} plus {} digests overflows", kind, first, n));
  out.resize(n);
  std::memcpy(out.data(), bytes.begin(), bytes.size());
  return caf::none;
}

caf::error read(schema::Leaves::Reader in, leaves& out) {
  out.first = in.getFirst();
  return read_digests("leaves", out.first, in.getDigests(), wire_limits::max_leaves_per_message,
                      out.digests);
}

caf::error read(schema::NodeRequest::Reader in, node_request& out) {
  auto level = in.getLevel();
  if (level >= wire_limits::max_tree_levels)
    return malformed(fmt::format("node_request.level {} is beyond the {} levels a tree can have",
                                 level, wire_limits::max_tree_levels));
  out.level = level;
  out.first = in.getFirst();
  out.count = in.getCount();
  if (out.count == 0 || out.count > wire_limits::max_nodes_per_message)
    return malformed(fmt::format("node_request.count {} is outside 1..{}", out.count,
                                 wire_limits::max_nodes_per_message));
  if (out.first > std::numeric_limits<uint64_t>::max() - out.count)
    return malformed(
      fmt::format("node_request.first {} plus count {} overflows", out.first, out.count));
  return caf::none;
}

caf::error read(schema::Nodes::Reader in, nodes& out) {
  auto level = in.getLevel();
  if (level >= wire_limits::max_tree_levels)
    return malformed(fmt::format("nodes.level {} is beyond the {} levels a tree can have", level,
                                 wire_limits::max_tree_levels));
  out.level = level;
  out.first = in.getFirst();
  return read_digests("nodes", out.first, in.getDigests(), wire_limits::max_nodes_per_message,
                      out.digests);
}

caf::error read(schema::Holdings::Reader in, holdings& out) {
  auto blocks = in.getBlocks();
  if (blocks.size() == 0 || blocks.size() > wire_limits::max_holdings)
    return malformed(fmt::format("holdings.blocks is {} bytes; expected 1..{}", blocks.size(),
                                 wire_limits::max_holdings));
  out.blocks.assign(blocks.begin(), blocks.end());
  return caf::none;
}

caf::error read(schema::BlockRequest::Reader in, block_request& out) {
  out.first = in.getFirst();
  out.count = in.getCount();
  if (out.count == 0 || out.count > max_block_request)
    return malformed(
      fmt::format("block_request.count {} is outside 1..{}", out.count, max_block_request));
  if (out.first > std::numeric_limits<uint64_t>::max() - out.count)
    return malformed(
      fmt::format("block_request.first {} plus count {} overflows", out.first, out.count));
  return caf::none;
}

caf::error read(schema::BlockData::Reader in, block_data& out) {
  out.first = in.getFirst();
  auto bytes = in.getBytes();
  if (bytes.size() == 0)
    return malformed("block_data.bytes is empty");
  if (bytes.size() > manifest_limits::max_block_size)
    return malformed(fmt::format("block_data.bytes is {} bytes, the limit is {}", bytes.size(),
                                 manifest_limits::max_block_size));
  // Check the wire value before narrowing it, so 256 cannot pass as raw.
  auto encoding = static_cast<uint16_t>(in.getEncoding());
  if (encoding > static_cast<uint16_t>(block_encoding::zstd))
    return malformed(fmt::format("block_data.encoding {} is unknown", encoding));
  out.encoding = static_cast<block_encoding>(encoding);
  out.bytes.assign(bytes.begin(), bytes.end());
  return caf::none;
}

caf::error read(schema::Done::Reader, done&) {
  return caf::none;
}

caf::error read(schema::Abort::Reader in, abort_transfer& out) {
  return read_text("abort.reason", in.getReason(), text_rule::optional, out.reason);
}

caf::error read(schema::Refusal::Reader in, refusal& out) {
  out.supported_version = in.getSupportedVersion();
  return read_text("refusal.reason", in.getReason(), text_rule::optional, out.reason);
}

caf::error read(capnp::Data::Reader in, revocation_notice& out) {
  auto list = decode_revocations_file(as_span(in));
  if (!list)
    return malformed("revocations: " + describe(list.error()));
  out.list = std::move(*list);
  return caf::none;
}

template <class T, class Reader>
caf::expected<wire_message> read_as(Reader in) {
  T out;
  if (auto err = read(in, out))
    return err;
  return wire_message{std::move(out)};
}

} // namespace

caf::expected<wire_message> read_envelope(capnp::MessageReader& reader) {
  auto env = reader.getRoot<schema::Envelope>();
  // The version comes first: a newer peer's message may mean something else entirely.
  auto version = env.getProtocolVersion();
  if (version != protocol_version)
    return make_error(errc::unsupported_version,
                      fmt::format("protocol version {} is not supported (this node speaks {})",
                                  version, protocol_version));
  using kind = schema::Envelope::Which;
  switch (env.which()) {
    case kind::IMAGE_REQUEST:
      return read_as<image_request>(env.getImageRequest());
    case kind::OFFER:
      return read_as<offer>(env.getOffer());
    case kind::ACCEPT:
      return read_as<accept>(env.getAccept());
    case kind::CONFIRM:
      return read_as<confirm>(env.getConfirm());
    case kind::BUSY:
      return read_as<busy>(env.getBusy());
    case kind::DECLINE:
      return read_as<decline>(env.getDecline());
    case kind::LEAVES:
      return read_as<leaves>(env.getLeaves());
    case kind::BLOCK_REQUEST:
      return read_as<block_request>(env.getBlockRequest());
    case kind::BLOCK_DATA:
      return read_as<block_data>(env.getBlockData());
    case kind::DONE:
      return read_as<done>(env.getDone());
    case kind::ABORT:
      return read_as<abort_transfer>(env.getAbort());
    case kind::REFUSAL:
      return read_as<refusal>(env.getRefusal());
    case kind::REVOCATIONS:
      return read_as<revocation_notice>(env.getRevocations());
    case kind::NODE_REQUEST:
      return read_as<node_request>(env.getNodeRequest());
    case kind::NODES:
      return read_as<nodes>(env.getNodes());
    case kind::HOLDINGS:
      return read_as<holdings>(env.getHoldings());
    case kind::FLEET_QUERY:
      return read_as<fleet_query>(env.getFleetQuery());
    case kind::FLEET_ANSWER:
      return read_as<fleet_answer>(env.getFleetAnswer());
  }
  return malformed(fmt::format("unknown message kind {}", static_cast<unsigned>(env.which())));
}

} // namespace fwrescue::codec
