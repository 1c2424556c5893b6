#include "messages/protocol.hpp"

#include <tuple>

#include "messages/protocol_codec.hpp"

namespace fwrescue {

namespace {

auto tied(const offer_fields& f) {
  return std::tie(f.request_id, f.challenge, f.donor, f.donor_key, f.role, f.active_uploads,
                  f.max_uploads, f.session_address, f.manifest_body, f.manifest_sig,
                  f.revocation_serial, f.holds);
}

auto tied(const accept_fields& f) {
  return std::tie(f.request_id, f.challenge, f.recipient, f.recipient_key, f.merkle_root,
                  f.donor_key, f.accepts_zstd, f.no_leaves, f.blocks_held);
}

} // namespace

caf::expected<wire_message> decode(std::span<const uint8_t> bytes) {
  return codec::parse<wire_message>(bytes, wire_limits::max_message, "message",
                                    codec::read_envelope);
}

bool is_refusal(std::span<const uint8_t> bytes) {
  auto kind = codec::parse<bool>(
    bytes, wire_limits::max_message, "message",
    [](capnp::MessageReader& reader) -> caf::expected<bool> {
      // Reads the kind without looking at the version.
      return reader.getRoot<schema::Envelope>().which() == schema::Envelope::REFUSAL;
    });
  return kind && *kind;
}

offer make_offer(offer_fields fields, const secret_key& key) {
  offer out;
  out.body = codec::encode_signed(fields);
  out.sig = key.sign(out.body);
  out.fields = std::move(fields);
  return out;
}

accept make_accept(accept_fields fields, const secret_key& key) {
  accept out;
  out.body = codec::encode_signed(fields);
  out.sig = key.sign(out.body);
  out.fields = std::move(fields);
  return out;
}

// Callers act on `fields`, so besides the signature over `body` these check that the fields
// are the ones the body holds: an offer assembled by hand cannot pair one body with other fields.

bool verify_offer(const offer& o) {
  auto signed_fields = codec::decode_offer_body(o.body);
  return signed_fields && tied(*signed_fields) == tied(o.fields)
         && verify_signature(o.fields.donor_key, o.body, o.sig);
}

bool verify_accept(const accept& a) {
  auto signed_fields = codec::decode_accept_body(a.body);
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
    "abort",         "refusal", "revocations",   "node_request", "nodes",
    "holdings",
    "fleet_query",   "fleet_answer"};
  static_assert(std::size(names) == std::variant_size_v<wire_message>);
  return names[m.index()];
}

} // namespace fwrescue
