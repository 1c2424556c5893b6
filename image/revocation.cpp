#include "image/revocation.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/hex.hpp"

namespace fwrescue {

caf::expected<signed_revocations> sign_revocations(const secret_key& key, revocation_list fields) {
  fields.signer_key_id = key.public_part().id();
  auto body = encode_revocation_body(fields);
  if (!body)
    return std::move(body.error());
  signed_revocations out;
  out.sig = key.sign(*body);
  out.body = std::move(*body);
  out.fields = std::move(fields);
  return out;
}

caf::error check_newer_revocations(const std::optional<signed_revocations>& stored,
                                   const signed_revocations& candidate,
                                   std::span<const public_key> trusted) {
  auto signer = check_revocations(candidate, trusted);
  if (!signer)
    return std::move(signer.error());
  if (stored && candidate.fields.serial <= stored->fields.serial)
    return make_error(errc::stale, fmt::format("revocation list {} is not newer than list {}",
                                               candidate.fields.serial, stored->fields.serial));
  if (stored && revokes(stored->fields, *signer))
    return make_error(errc::bad_signature,
                      fmt::format("revocation list {} is signed by key {}, which list {} revokes",
                                  candidate.fields.serial, to_hex(signer->id()),
                                  stored->fields.serial));
  return caf::none;
}

bool revokes(const revocation_list& r, const public_key& key) {
  return std::find(r.keys.begin(), r.keys.end(), key.bytes) != r.keys.end();
}

caf::expected<public_key> check_revocations(const signed_revocations& r,
                                            std::span<const public_key> trusted) {
  bool id_known = false;
  for (const auto& key : trusted) {
    if (key.id() != r.fields.signer_key_id)
      continue;
    id_known = true;
    if (!verify_signature(key, r.body, r.sig))
      continue;
    if (revokes(r.fields, key))
      return make_error(errc::bad_signature,
                        fmt::format("revocation list {} is signed by key {}, which it revokes",
                                    r.fields.serial, to_hex(key.id())));
    return key;
  }
  if (id_known)
    return make_error(errc::bad_signature,
                      fmt::format("revocation list {}: signature does not verify with key {}",
                                  r.fields.serial, to_hex(r.fields.signer_key_id)));
  return make_error(errc::unknown_key,
                    fmt::format("revocation list {} is signed by key {}, which is not among the "
                                "{} key(s) allowed to sign revocation lists",
                                r.fields.serial, to_hex(r.fields.signer_key_id), trusted.size()));
}

std::string revocation_problem(const revocation_list& r, const signed_manifest& m,
                               const public_key& signer) {
  const auto& root = m.fields.merkle_root;
  if (std::find(r.roots.begin(), r.roots.end(), root) != r.roots.end())
    return fmt::format("image {} is revoked (revocation list {})", to_hex(root), r.serial);
  if (revokes(r, signer))
    return fmt::format("signed by key {}, which is revoked (revocation list {})",
                       to_hex(signer.id()), r.serial);
  return {};
}

} // namespace fwrescue
