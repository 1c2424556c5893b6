@0xc6ba280ab8ca36b5;
# A signed revocation list: keys and images that must no longer be trusted. docs/manifest.md
# ("Revocation lists") describes it. Ordinals are stable: fields are only ever added.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("fwrescue::schema");

# What the signature covers, encoded on its own as a single-segment message.
struct RevocationBody {
  formatVersion @0 :UInt16;
  serial @1 :UInt64;         # a list replaces another only with a higher serial
  createdAt @2 :Int64;       # seconds since the Unix epoch, UTC
  signerKeyId @3 :Data;      # first 8 bytes of BLAKE2b-256 over the signer's public key
  revokedKeys @4 :Data;      # n * 32 bytes: Ed25519 keys (release or node keys) no longer trusted
  revokedRoots @5 :Data;     # n * 32 bytes: Merkle roots of images no longer accepted
}

struct SignedRevocations {
  body @0 :Data;             # encoded RevocationBody
  signature @1 :Data;        # Ed25519 over exactly `body` (64 bytes)
}
