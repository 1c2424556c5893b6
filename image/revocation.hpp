#pragma once

#include <optional>
#include <span>
#include <string>

#include <caf/expected.hpp>

#include "image/keys.hpp"
#include "messages/revocation.hpp"

namespace fwrescue {

/// Signs a revocation list with `key` (its key id is filled in).
caf::expected<signed_revocations> sign_revocations(const secret_key& key, revocation_list fields);

/// Checks a list's signature against the keys allowed to sign revocation lists; returns the
/// signer. A key the list itself revokes cannot sign it (a stolen key cannot be used to say it
/// is still good, nor to revoke the others in a list it is named in). Errors:
/// errc::unknown_key, errc::bad_signature.
caf::expected<public_key> check_revocations(const signed_revocations& r,
                                            std::span<const public_key> trusted);

/// Whether `candidate` may replace `stored` (the list this node keeps, if any): its signature
/// checks out against `trusted`, its serial is higher, and its signer is revoked neither by it
/// nor by the stored list (once a key is revoked, lists it signs are refused, whatever their
/// serial). The error says why not; errc::stale for a serial that is not newer.
caf::error check_newer_revocations(const std::optional<signed_revocations>& stored,
                                   const signed_revocations& candidate,
                                   std::span<const public_key> trusted);

/// Whether `key` is revoked by `r`.
bool revokes(const revocation_list& r, const public_key& key);

/// Why `m` (signed by `signer`) is refused under `r`, or an empty string: its image was revoked,
/// or the key that signed it.
std::string revocation_problem(const revocation_list& r, const signed_manifest& m,
                               const public_key& signer);

} // namespace fwrescue
