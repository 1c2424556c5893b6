#pragma once

// The parts of the wire codec that its reading half (protocol_read.cpp), its writing half
// (protocol_write.cpp) and the signing of offers and accepts (protocol.cpp) share. Not for use
// outside messages/: everyone else calls messages/protocol.hpp.

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>

#include "common/error.hpp"
#include "messages/protocol.hpp"
#include "messages/protocol.capnp.h"
#include "messages/untrusted_reader.hpp"

namespace fwrescue::codec {

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

inline caf::error malformed(const std::string& what) {
  return make_error(errc::malformed, "malformed protocol message: " + what);
}

template <class Bytes>
capnp::Data::Reader as_data(const Bytes& bytes) {
  return {bytes.data(), bytes.size()};
}

template <class T, class Read>
caf::expected<T> parse(std::span<const uint8_t> bytes, size_t max_bytes, const char* what,
                       Read&& read) {
  return untrusted::parse<T>(bytes, max_bytes, "malformed protocol message", what,
                             std::forward<Read>(read));
}

/// Reads one Envelope: the version first, then the one message it holds.
caf::expected<wire_message> read_envelope(capnp::MessageReader& reader);

/// The signed bodies of offers and accepts, read back (verify_offer, verify_accept) and written
/// (make_offer, make_accept).
caf::expected<offer_fields> decode_offer_body(std::span<const uint8_t> bytes);
caf::expected<accept_fields> decode_accept_body(std::span<const uint8_t> bytes);
std::vector<uint8_t> encode_signed(const offer_fields& f);
std::vector<uint8_t> encode_signed(const accept_fields& f);

/// The same for fleet queries and answers (protocol_fleet.cpp).
caf::expected<fleet_query_fields> decode_fleet_query_body(std::span<const uint8_t> bytes);
caf::expected<fleet_answer_fields> decode_fleet_answer_body(std::span<const uint8_t> bytes);
std::vector<uint8_t> encode_signed(const fleet_query_fields& f);
std::vector<uint8_t> encode_signed(const fleet_answer_fields& f);

/// Checks a text field's length (at most `limit`) and characters (printable ASCII) and copies
/// it: texts end up in logs and policy decisions.
enum class text_rule { required, optional };
caf::error read_text(const char* field, capnp::Text::Reader in, text_rule rule, std::string& out,
                     size_t limit = wire_limits::max_text);

template <size_t N>
caf::error read_fixed(const char* field, capnp::Data::Reader in, std::array<uint8_t, N>& out) {
  if (in.size() != N)
    return malformed(fmt::format("{} is {} bytes, expected {}", field, in.size(), N));
  std::copy(in.begin(), in.end(), out.begin());
  return caf::none;
}

/// Serializes a builder whose first segment holds the whole message (the single-segment
/// layout docs/protocol.md describes), straight into the returned buffer.
std::vector<uint8_t> to_bytes(capnp::MessageBuilder& builder);

/// Words for a builder's first segment to hold a message with this much variable-length data.
unsigned first_segment_words(size_t payload_bytes);

} // namespace fwrescue::codec
