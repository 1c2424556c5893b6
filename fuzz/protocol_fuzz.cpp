// Fuzzes the wire protocol's decoder (messages/protocol.hpp): the envelope, every message
// kind, and the signed bodies of offers and accepts. Everything a peer sends on the LAN goes
// through decode() first.
//
// Besides "does not crash", it checks what callers rely on for whatever decodes:
// - it encodes, and the encoding decodes to the same value and encodes to the same bytes;
// - a raw block_data built in place (encode_block_data) is byte for byte what encode() builds;
//   a zstd one never decompresses beyond the bound it is given;
// - is_refusal() agrees with decode() on the message kind;
// - verify_offer / verify_accept / verify_fleet_query / verify_fleet_answer say exactly what the
//   signature over the body says (the fields decode() returned are the body's), and the offered
//   manifest always decodes; a fleet answer we sign never exceeds the size it is given;
// - fields signed again with a key of ours verify, and decode back to the same fields.

#include <cstdint>
#include <cstring>
#include <span>
#include <tuple>
#include <variant>

#include "fuzz/fuzz_check.hpp"
#include "image/hash.hpp"
#include "image/keys.hpp"
#include "messages/block_codec.hpp"
#include "messages/protocol.hpp"

namespace fwrescue::fuzz {
namespace {

auto tied(const image_request& m) {
  return std::tie(m.request_id, m.challenge, m.requester, m.platform, m.min_svn,
                  m.revocation_serial, m.exclude_roots, m.component);
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
auto tied(const offer& m) {
  return std::tuple_cat(std::tie(m.body, m.sig), tied(m.fields));
}
auto tied(const accept& m) {
  return std::tuple_cat(std::tie(m.body, m.sig), tied(m.fields));
}
auto tied(const confirm& m) {
  return std::tie(m.request_id, m.leaves_omitted);
}
auto tied(const busy& m) {
  return std::tie(m.request_id, m.retry_after_ms);
}
auto tied(const decline& m) {
  return std::tie(m.request_id, m.reason);
}
auto tied(const leaves& m) {
  return std::tie(m.first, m.digests);
}
auto tied(const block_request& m) {
  return std::tie(m.first, m.count);
}
auto tied(const block_data& m) {
  return std::tie(m.first, m.bytes, m.encoding);
}
auto tied(const node_request& m) {
  return std::tie(m.level, m.first, m.count);
}
auto tied(const nodes& m) {
  return std::tie(m.level, m.first, m.digests);
}
auto tied(const holdings& m) {
  return std::tie(m.blocks);
}
auto tied(const done&) {
  return std::tuple<>{};
}
auto tied(const abort_transfer& m) {
  return std::tie(m.reason);
}
auto tied(const refusal& m) {
  return std::tie(m.supported_version, m.reason);
}
auto tied(const revocation_notice& m) {
  return std::tie(m.list.body, m.list.sig, m.list.fields);
}
auto tied(const fleet_query& m) {
  return std::tie(m.body, m.sig, m.fields);
}
auto tied(const fleet_answer& m) {
  return std::tie(m.body, m.sig, m.fields);
}

bool same(const wire_message& a, const wire_message& b) {
  if (a.index() != b.index())
    return false;
  return std::visit(
    [&](const auto& x) { return tied(x) == tied(std::get<std::decay_t<decltype(x)>>(b)); }, a);
}

/// The key this harness signs with; any fixed key does.
const secret_key& our_key() {
  static const secret_key key{std::array<uint8_t, 32>{1, 2, 3}};
  return key;
}

void check_block_data(const block_data& m, const std::vector<uint8_t>& encoded) {
  if (m.encoding == block_encoding::zstd) {
    auto run = decompress_run(m.bytes, block_data_bytes);
    check(!run || (!run->empty() && run->size() <= block_data_bytes),
          "a zstd run decompresses within its bound or not at all");
    return;
  }
  auto in_place = encode_block_data(m.first, m.bytes.size(), [&](std::span<uint8_t> out) {
    std::memcpy(out.data(), m.bytes.data(), out.size());
    return caf::error{};
  });
  check(in_place && *in_place == encoded, "encode_block_data equals encode");
}

void check_offer(const offer& o) {
  check(verify_offer(o) == verify_signature(o.fields.donor_key, o.body, o.sig),
        "verify_offer is the signature check over the decoded body");
  auto m = offered_manifest(o);
  check(static_cast<bool>(m), "a decoded offer's manifest decodes");
  check(m->body == o.fields.manifest_body && m->sig == o.fields.manifest_sig,
        "offered_manifest keeps the signed bytes");
  auto again = decode_body(encode_body(m->fields));
  check(again && *again == m->fields, "manifest body round trip");

  auto fields = o.fields;
  fields.donor_key = our_key().public_part();
  auto resigned = make_offer(fields, our_key());
  check(verify_offer(resigned), "an offer we sign verifies");
  auto back = decode(encode(resigned));
  check(back && std::holds_alternative<offer>(*back)
          && tied(std::get<offer>(*back).fields) == tied(fields),
        "offer fields round trip through a body we sign");
}

void check_accept(const accept& a) {
  check(verify_accept(a) == verify_signature(a.fields.recipient_key, a.body, a.sig),
        "verify_accept is the signature check over the decoded body");
  auto fields = a.fields;
  fields.recipient_key = our_key().public_part();
  auto resigned = make_accept(fields, our_key());
  check(verify_accept(resigned), "an accept we sign verifies");
  auto back = decode(encode(resigned));
  check(back && std::holds_alternative<accept>(*back)
          && tied(std::get<accept>(*back).fields) == tied(fields),
        "accept fields round trip through a body we sign");
}

void check_fleet_query(const fleet_query& q) {
  check(verify_fleet_query(q) == verify_signature(q.fields.asker_key, q.body, q.sig),
        "verify_fleet_query is the signature check over the decoded body");
  auto fields = q.fields;
  fields.asker_key = our_key().public_part();
  auto resigned = make_fleet_query(fields, our_key());
  check(verify_fleet_query(resigned), "a fleet query we sign verifies");
  check(encode(resigned).size() >= fleet_limits::max_datagram, "a query we sign is padded");
}

void check_fleet_answer(const fleet_answer& a, size_t query_size) {
  check(verify_fleet_answer(a) == verify_signature(a.fields.node_key, a.body, a.sig),
        "verify_fleet_answer is the signature check over the decoded body");
  auto fields = a.fields;
  fields.node_key = our_key().public_part();
  auto resigned = make_fleet_answer(fields, our_key(), query_size);
  check(!resigned || (verify_fleet_answer(*resigned) && encode(*resigned).size() <= query_size),
        "an answer we sign verifies and stays within the query's size");
}

} // namespace
} // namespace fwrescue::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!fwrescue::init_crypto())
    __builtin_trap();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fwrescue;
  using fuzz::check;
  std::span<const uint8_t> bytes{data, size};
  auto m = decode(bytes);
  auto refusal_seen = is_refusal(bytes);
  if (!m)
    return 0;
  check(refusal_seen == std::holds_alternative<refusal>(*m), "is_refusal agrees with decode");
  check(kind_name(*m) != nullptr, "every kind has a name");

  auto encoded = encode(*m);
  auto back = decode(encoded);
  check(static_cast<bool>(back), "what decodes encodes into something that decodes");
  check(fuzz::same(*m, *back), "decode(encode(m)) == m");
  check(encode(*back) == encoded, "encoding is deterministic");

  if (auto* b = std::get_if<block_data>(&*m))
    fuzz::check_block_data(*b, encoded);
  else if (auto* o = std::get_if<offer>(&*m))
    fuzz::check_offer(*o);
  else if (auto* a = std::get_if<accept>(&*m))
    fuzz::check_accept(*a);
  else if (auto* q = std::get_if<fleet_query>(&*m))
    fuzz::check_fleet_query(*q);
  else if (auto* f = std::get_if<fleet_answer>(&*m))
    fuzz::check_fleet_answer(*f, size);
  return 0;
}
