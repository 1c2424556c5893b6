@0x9aaa4acb986856a2;
# Signed image manifest. docs/manifest.md describes the encoding byte by byte.
# Ordinals are stable: fields are only ever added, never renumbered or reused.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("fwrescue::schema");

enum HashAlgorithm {
  blake2b256 @0;  # BLAKE2b with a 32-byte output (libsodium crypto_generichash)
  sha256 @1;      # SHA-256, for BMCs whose hash engine accelerates it
}

struct Platform {
  vendor @0 :Text;
  board @1 :Text;
}

# What the signature covers. It is encoded on its own as a single-segment message and the
# exact bytes of that encoding are signed and carried in SignedManifest.body.
struct ManifestBody {
  formatVersion @0 :UInt16;
  platform @1 :Platform;
  version @2 :Text;
  svn @3 :UInt32;            # security version number: anti-rollback floor compares this
  imageSize @4 :UInt64;      # bytes
  blockSize @5 :UInt32;      # bytes, power of two
  hashAlgorithm @6 :HashAlgorithm;
  merkleRoot @7 :Data;       # digest of the Merkle tree over the blocks
  signerKeyId @8 :Data;      # first 8 bytes of BLAKE2b-256 over the signer's public key
  createdAt @9 :Int64;       # seconds since the Unix epoch, UTC
  component @10 :Text;       # which firmware target the image is for: 1-32 of [a-z0-9-];
                             # absent (a manifest signed before the field existed) reads "bios"
}

struct SignedManifest {
  body @0 :Data;             # encoded ManifestBody
  signature @1 :Data;        # Ed25519 over exactly `body` (64 bytes)
  # The digest of every block, in order. Not signed: it is accepted only when the tree built
  # from it has the signed root. Lets `verify` name the bad blocks. Empty on the wire, where
  # blocks travel with their authentication paths instead.
  blockDigests @2 :Data;
}
