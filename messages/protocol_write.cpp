// The writing half of the wire codec: each message is built in one segment sized for it, so
// it goes out as docs/protocol.md lays it out, in one copy.

#include <cstring>

#include <capnp/serialize.h>
#include <kj/io.h>

#include "messages/protocol_codec.hpp"

namespace fwrescue {

namespace codec {

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
  if (!f.holds.empty())
    in.setHolds(as_data(f.holds));
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
  in.setBlocksHeld(f.blocks_held);
  return to_bytes(builder);
}

} // namespace codec

namespace {

using namespace codec;

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

void write(schema::Envelope::Builder env, const fleet_query& m) {
  auto out = env.initFleetQuery();
  out.setBody(as_data(m.body));
  out.setSignature(as_data(m.sig));
}

void write(schema::Envelope::Builder env, const fleet_answer& m) {
  auto out = env.initFleetAnswer();
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

void write(schema::Envelope::Builder env, const holdings& m) {
  env.initHoldings().setBlocks(as_data(m.blocks));
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
      [](const fleet_query& q) { return q.body.size(); },
      [](const fleet_answer& a) { return a.body.size(); },
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

} // namespace fwrescue
