#include "messages/revocation.hpp"

#include <algorithm>
#include <cstring>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <kj/exception.h>

#include "common/error.hpp"
#include "messages/revocation.capnp.h"
#include "messages/untrusted_reader.hpp"

namespace fwrescue {

namespace {

caf::error malformed(const std::string& what) {
  return make_error(errc::malformed, "malformed revocation list: " + what);
}

template <class T, class Read>
caf::expected<T> parse(std::span<const uint8_t> bytes, size_t max_bytes, const char* what,
                       Read&& read) {
  return untrusted::parse<T>(bytes, max_bytes, "malformed revocation list", what,
                             std::forward<Read>(read));
}

template <class Entry>
caf::error read_entries(const char* field, capnp::Data::Reader in, std::vector<Entry>& out) {
  if (in.size() % sizeof(Entry) != 0)
    return malformed(
      fmt::format("{} is {} bytes, not a multiple of {}", field, in.size(), sizeof(Entry)));
  out.resize(in.size() / sizeof(Entry));
  if (!out.empty())
    std::memcpy(out.data(), in.begin(), in.size());
  return caf::none;
}

caf::error check(const revocation_list& r) {
  if (r.format_version != revocation_list::current_format_version)
    return malformed(fmt::format("format version {} is not supported (this build reads {})",
                                 r.format_version, revocation_list::current_format_version));
  if (r.serial == 0)
    return malformed("serial 0 is not a serial: lists start at 1");
  if (r.keys.size() + r.roots.size() > revocation_limits::max_entries)
    return malformed(fmt::format("{} entries, the limit is {}", r.keys.size() + r.roots.size(),
                                 revocation_limits::max_entries));
  return caf::none;
}

} // namespace

caf::expected<std::vector<uint8_t>> encode_revocation_body(const revocation_list& r) {
  if (auto err = check(r))
    return err;
  capnp::MallocMessageBuilder builder{256};
  auto body = builder.initRoot<schema::RevocationBody>();
  body.setFormatVersion(r.format_version);
  body.setSerial(r.serial);
  body.setCreatedAt(r.created_at);
  body.setSignerKeyId({r.signer_key_id.data(), r.signer_key_id.size()});
  auto keys = body.initRevokedKeys(r.keys.size() * sizeof(raw_key));
  if (!r.keys.empty())
    std::memcpy(keys.begin(), r.keys.data(), keys.size());
  auto roots = body.initRevokedRoots(r.roots.size() * sizeof(digest));
  if (!r.roots.empty())
    std::memcpy(roots.begin(), r.roots.data(), roots.size());
  auto flat = capnp::messageToFlatArray(builder);
  auto bytes = flat.asBytes();
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

caf::expected<revocation_list> decode_revocation_body(std::span<const uint8_t> bytes) {
  auto read = [](capnp::MessageReader& reader) -> caf::expected<revocation_list> {
    auto in = reader.getRoot<schema::RevocationBody>();
    revocation_list r;
    r.format_version = in.getFormatVersion();
    r.serial = in.getSerial();
    r.created_at = in.getCreatedAt();
    auto id = in.getSignerKeyId();
    if (id.size() != r.signer_key_id.size())
      return malformed(
        fmt::format("signer key id is {} bytes, expected {}", id.size(), r.signer_key_id.size()));
    std::copy(id.begin(), id.end(), r.signer_key_id.begin());
    if (auto err = read_entries("revoked keys", in.getRevokedKeys(), r.keys))
      return err;
    if (auto err = read_entries("revoked roots", in.getRevokedRoots(), r.roots))
      return err;
    if (auto err = check(r))
      return err;
    return r;
  };
  return parse<revocation_list>(bytes, revocation_limits::max_body_bytes, "body", read);
}

std::vector<uint8_t> encode_revocations_file(const signed_revocations& r) {
  capnp::MallocMessageBuilder builder{256};
  auto root = builder.initRoot<schema::SignedRevocations>();
  root.setBody({r.body.data(), r.body.size()});
  root.setSignature({r.sig.data(), r.sig.size()});
  auto flat = capnp::messageToFlatArray(builder);
  auto bytes = flat.asBytes();
  std::vector<uint8_t> out(revocation_file_magic.size() + bytes.size());
  auto rest = std::copy(revocation_file_magic.begin(), revocation_file_magic.end(), out.begin());
  std::copy(bytes.begin(), bytes.end(), rest);
  return out;
}

caf::expected<signed_revocations> decode_revocations_file(std::span<const uint8_t> bytes) {
  if (bytes.size() < revocation_file_magic.size()
      || !std::equal(revocation_file_magic.begin(), revocation_file_magic.end(), bytes.begin()))
    return malformed("not a revocation list (it does not start with \"FWRREVOK\")");
  auto read = [](capnp::MessageReader& reader) -> caf::expected<signed_revocations> {
    auto in = reader.getRoot<schema::SignedRevocations>();
    signed_revocations out;
    auto body = in.getBody();
    out.body.assign(body.begin(), body.end());
    auto sig = in.getSignature();
    if (sig.size() != out.sig.size())
      return malformed(
        fmt::format("signature is {} bytes, expected {}", sig.size(), out.sig.size()));
    std::copy(sig.begin(), sig.end(), out.sig.begin());
    return out;
  };
  auto out = parse<signed_revocations>(bytes.subspan(revocation_file_magic.size()),
                                       revocation_limits::max_file_bytes, "file", read);
  if (!out)
    return out;
  auto fields = decode_revocation_body(out->body);
  if (!fields)
    return std::move(fields.error());
  out->fields = std::move(*fields);
  return out;
}

} // namespace fwrescue
