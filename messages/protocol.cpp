#include "messages/protocol.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <tuple>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <kj/exception.h>
#include <kj/io.h>

#include "common/error.hpp"
#include "messages/protocol.capnp.h"
#include "messages/untrusted_reader.hpp"

namespace fwrescue {

namespace {

/// An offer body is a manifest body plus a few short fields: twice the manifest body's limit
/// leaves room for every text at its limit.
constexpr size_t max_signed_body = 2 * manifest_limits::max_body_bytes;

/// Most blocks one block_request may ask for; bounds what one frame makes a donor send.
constexpr uint32_t max_block_request = 1024;

/// Room for struct headers, pointers, fixed fields and padding beyond a message's variable-length
/// payload, so the builder's first segment holds the whole message.
constexpr size_t encoding_slack = 512;

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

caf::error malformed(const std::string& what) {
  return make_error(errc::malformed, "malformed protocol message: " + what);
}

template <class Bytes>
capnp::Data::Reader as_data(const Bytes& bytes) {
  return {bytes.data(), bytes.size()};
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// ---- reading fields (may throw kj::Exception; called only inside `parse`) ----

enum class text_rule { required, optional };

/// Copies a text field after checking its length and characters: texts end up in logs and
/// policy decisions, so control characters and unbounded lengths are refused.
caf::error read_text(const char* field, capnp::Text::Reader in, text_rule rule, std::string& out) {
  if (in.size() > wire_limits::max_text)
    return malformed(
      fmt::format("{} is {} bytes long, the limit is {}", field, in.size(), wire_limits::max_text));
  if (rule == text_rule::required && in.size() == 0)
    return malformed(fmt::format("{} is empty", field));
  std::string_view view{in.cStr(), in.size()};
  if (!printable(view))
    return malformed(fmt::format("{} holds characters other than printable ASCII", field));
  out.assign(view);
  return caf::none;
}

template <size_t N>
caf::error read_fixed(const char* field, capnp::Data::Reader in, std::array<uint8_t, N>& out) {
  if (in.size() != N)
    return malformed(fmt::format("{} is {} bytes, expected {}", field, in.size(), N));
  std::copy(in.begin(), in.end(), out.begin());
  return caf::none;
}

template <class T, class Read>
caf::expected<T> parse(std::span<const uint8_t> bytes, size_t max_bytes, const char* what,
                       Read&& read) {
  return untrusted::parse<T>(bytes, max_bytes, "malformed protocol message", what,
                             std::forward<Read>(read));
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
    return out;
  };
  return parse<accept_fields>(bytes, max_signed_body, "accept.body", read);
}

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
  }
  return malformed(fmt::format("unknown message kind {}", static_cast<unsigned>(env.which())));
}

// ---- writing ----

/// Serializes a builder whose first segment holds the whole message (the single-segment
/// layout docs/protocol.md describes), straight into the returned buffer.
std::vector<uint8_t> to_bytes(capnp::MessageBuilder& builder) {
  std::vector<uint8_t> out(capnp::computeSerializedSizeInWords(builder) * sizeof(capnp::word));
  kj::ArrayOutputStream stream{kj::arrayPtr(out.data(), out.size())};
  capnp::writeMessage(stream, builder);
  return out;
}

unsigned first_segment_words(size_t payload_bytes) {
  return static_cast<unsigned>((payload_bytes + encoding_slack) / sizeof(capnp::word));
}

std::vector<uint8_t> encode_signed(const offer_fields& f) {
  capnp::MallocMessageBuilder builder{
    first_segment_words(f.donor.size() + f.session_address.size() + f.manifest_body.size())};
  auto in = builder.initRoot<schema::SignedBody>().initOffer();
  in.setRequestId(f.request_id);
  in.setNonce(as_data(f.challenge));
  in.setDonor(f.donor);
  in.setDonorKey(as_data(f.donor_key.bytes));
  in.setRole(static_cast<schema::NodeRole>(f.role));
  in.setActiveUploads(f.active_uploads);
  in.setMaxUploads(f.max_uploads);
  in.setSessionAddress(f.session_address);
  in.setManifestBody(as_data(f.manifest_body));
  in.setManifestSignature(as_data(f.manifest_sig));
  in.setRevocationSerial(f.revocation_serial);
  return to_bytes(builder);
}

std::vector<uint8_t> encode_signed(const accept_fields& f) {
  capnp::MallocMessageBuilder builder{first_segment_words(f.recipient.size())};
  auto in = builder.initRoot<schema::SignedBody>().initAccept();
  in.setRequestId(f.request_id);
  in.setNonce(as_data(f.challenge));
  in.setRecipient(f.recipient);
  in.setRecipientKey(as_data(f.recipient_key.bytes));
  in.setMerkleRoot(as_data(f.merkle_root));
  in.setDonorKey(as_data(f.donor_key.bytes));
  in.setAcceptsZstd(f.accepts_zstd);
  in.setNoLeaves(f.no_leaves);
  return to_bytes(builder);
}

void write(schema::Envelope::Builder env, const image_request& m) {
  auto out = env.initImageRequest();
  out.setRequestId(m.request_id);
  out.setNonce(as_data(m.challenge));
  out.setRequester(m.requester);
  auto platform = out.initPlatform();
  platform.setVendor(m.platform.vendor);
  platform.setBoard(m.platform.board);
  out.setMinSvn(m.min_svn);
  out.setRevocationSerial(m.revocation_serial);
  auto count = std::min(m.exclude_roots.size(), max_excluded_roots);
  auto roots = out.initExcludeRoots(static_cast<unsigned>(count));
  for (size_t i = 0; i < count; ++i)
    roots.set(static_cast<unsigned>(i), as_data(m.exclude_roots[i]));
  out.setComponent(m.component);
}

void write(schema::Envelope::Builder env, const offer& m) {
  auto out = env.initOffer();
  out.setBody(as_data(m.body));
  out.setSignature(as_data(m.sig));
}

void write(schema::Envelope::Builder env, const accept& m) {
  auto out = env.initAccept();
  out.setBody(as_data(m.body));
  out.setSignature(as_data(m.sig));
}

void write(schema::Envelope::Builder env, const confirm& m) {
  auto out = env.initConfirm();
  out.setRequestId(m.request_id);
  out.setLeavesOmitted(m.leaves_omitted);
}

void write(schema::Envelope::Builder env, const busy& m) {
  auto out = env.initBusy();
  out.setRequestId(m.request_id);
  out.setRetryAfterMs(m.retry_after_ms);
}

void write(schema::Envelope::Builder env, const decline& m) {
  auto out = env.initDecline();
  out.setRequestId(m.request_id);
  out.setReason(m.reason);
}

void write(schema::Envelope::Builder env, const leaves& m) {
  auto out = env.initLeaves();
  out.setFirst(m.first);
  auto bytes = out.initDigests(m.digests.size() * sizeof(digest));
  if (!m.digests.empty())
    std::memcpy(bytes.begin(), m.digests.data(), bytes.size());
}

void write(schema::Envelope::Builder env, const block_request& m) {
  auto out = env.initBlockRequest();
  out.setFirst(m.first);
  out.setCount(m.count);
}

void write(schema::Envelope::Builder env, const block_data& m) {
  auto out = env.initBlockData();
  out.setFirst(m.first);
  out.setBytes(as_data(m.bytes));
  out.setEncoding(static_cast<schema::BlockEncoding>(m.encoding));
}

void write(schema::Envelope::Builder env, const node_request& m) {
  auto out = env.initNodeRequest();
  out.setLevel(m.level);
  out.setFirst(m.first);
  out.setCount(m.count);
}

void write(schema::Envelope::Builder env, const nodes& m) {
  auto out = env.initNodes();
  out.setLevel(m.level);
  out.setFirst(m.first);
  auto bytes = out.initDigests(m.digests.size() * sizeof(digest));
  if (!m.digests.empty())
    std::memcpy(bytes.begin(), m.digests.data(), bytes.size());
}

void write(schema::Envelope::Builder env, const done&) {
  env.initDone();
}

void write(schema::Envelope::Builder env, const abort_transfer& m) {
  env.initAbort().setReason(m.reason);
}

void write(schema::Envelope::Builder env, const revocation_notice& m) {
  auto bytes = encode_revocations_file(m.list);
  env.setRevocations({bytes.data(), bytes.size()});
}

void write(schema::Envelope::Builder env, const refusal& m) {
  auto out = env.initRefusal();
  out.setSupportedVersion(m.supported_version);
  out.setReason(m.reason);
}

/// The variable-length bytes a message carries, to size the builder's first segment.
size_t payload_bytes(const wire_message& m) {
  return std::visit(
    overloaded{
      [](const image_request& r) {
        return r.requester.size() + r.platform.vendor.size() + r.platform.board.size()
               + r.component.size();
      },
      [](const offer& o) { return o.body.size(); },
      [](const accept& a) { return a.body.size(); },
      [](const decline& d) { return d.reason.size(); },
      [](const leaves& l) { return l.digests.size() * sizeof(digest); },
      [](const nodes& l) { return l.digests.size() * sizeof(digest); },
      [](const block_data& b) { return b.bytes.size(); },
      [](const abort_transfer& a) { return a.reason.size(); },
      [](const refusal& r) { return r.reason.size(); },
      [](const revocation_notice& r) { return r.list.body.size() + r.list.sig.size() + 64; },
      [](const auto&) { return size_t{0}; },
    },
    m);
}

auto tied(const offer_fields& f) {
  return std::tie(f.request_id, f.challenge, f.donor, f.donor_key, f.role, f.active_uploads,
                  f.max_uploads, f.session_address, f.manifest_body, f.manifest_sig,
                  f.revocation_serial);
}

auto tied(const accept_fields& f) {
  return std::tie(f.request_id, f.challenge, f.recipient, f.recipient_key, f.merkle_root,
                  f.donor_key, f.accepts_zstd, f.no_leaves);
}

} // namespace

std::vector<uint8_t> encode(const wire_message& m) {
  capnp::MallocMessageBuilder builder{first_segment_words(payload_bytes(m))};
  auto env = builder.initRoot<schema::Envelope>();
  env.setProtocolVersion(protocol_version);
  std::visit([&](const auto& msg) { write(env, msg); }, m);
  return to_bytes(builder);
}

caf::expected<std::vector<uint8_t>>
encode_block_data(uint64_t first, size_t length,
                  const std::function<caf::error(std::span<uint8_t>)>& fill) {
  // One segment, built where it will be sent: after the one-word segment table, in a buffer of
  // zeros (as a builder's segment must start) with room to spare; the unused end is cut off.
  auto words = first_segment_words(length);
  std::vector<uint8_t> out((1 + size_t{words}) * sizeof(capnp::word));
  capnp::FlatMessageBuilder builder{
    kj::arrayPtr(reinterpret_cast<capnp::word*>(out.data() + sizeof(capnp::word)), words)};
  auto env = builder.initRoot<schema::Envelope>();
  env.setProtocolVersion(protocol_version);
  auto data = env.initBlockData();
  data.setFirst(first);
  auto bytes = data.initBytes(static_cast<unsigned>(length));
  if (auto err = fill({bytes.begin(), bytes.size()}))
    return err;
  auto segments = builder.getSegmentsForOutput();
  auto used = static_cast<uint32_t>(segments[0].size());
  uint32_t table[2] = {0, used}; // segment count - 1, then the segment's size in words
  std::memcpy(out.data(), table, sizeof table);
  out.resize((1 + size_t{used}) * sizeof(capnp::word));
  return out;
}

caf::expected<wire_message> decode(std::span<const uint8_t> bytes) {
  return parse<wire_message>(bytes, wire_limits::max_message, "message", read_envelope);
}

bool is_refusal(std::span<const uint8_t> bytes) {
  auto kind =
    parse<bool>(bytes, wire_limits::max_message, "message",
                [](capnp::MessageReader& reader) -> caf::expected<bool> {
                  // Reads the kind without looking at the version.
                  return reader.getRoot<schema::Envelope>().which() == schema::Envelope::REFUSAL;
                });
  return kind && *kind;
}

offer make_offer(offer_fields fields, const secret_key& key) {
  offer out;
  out.body = encode_signed(fields);
  out.sig = key.sign(out.body);
  out.fields = std::move(fields);
  return out;
}

accept make_accept(accept_fields fields, const secret_key& key) {
  accept out;
  out.body = encode_signed(fields);
  out.sig = key.sign(out.body);
  out.fields = std::move(fields);
  return out;
}

// Callers act on `fields`, so besides the signature over `body` these check that the fields
// are the ones the body holds: an offer assembled by hand cannot pair one body with other fields.

bool verify_offer(const offer& o) {
  auto signed_fields = decode_offer_body(o.body);
  return signed_fields && tied(*signed_fields) == tied(o.fields)
         && verify_signature(o.fields.donor_key, o.body, o.sig);
}

bool verify_accept(const accept& a) {
  auto signed_fields = decode_accept_body(a.body);
  return signed_fields && tied(*signed_fields) == tied(a.fields)
         && verify_signature(a.fields.recipient_key, a.body, a.sig);
}

caf::expected<signed_manifest> offered_manifest(const offer& o) {
  auto fields = decode_body(o.fields.manifest_body);
  if (!fields)
    return std::move(fields.error());
  signed_manifest out;
  out.body = o.fields.manifest_body;
  out.sig = o.fields.manifest_sig;
  out.fields = std::move(*fields);
  return out;
}

const char* kind_name(const wire_message& m) {
  // In the order of wire_message's alternatives.
  static constexpr const char* names[] = {
    "image_request", "offer",   "accept",        "confirm",      "busy",
    "decline",       "leaves",  "block_request", "block_data",   "done",
    "abort",         "refusal", "revocations",   "node_request", "nodes"};
  static_assert(std::size(names) == std::variant_size_v<wire_message>);
  return names[m.index()];
}

} // namespace fwrescue
