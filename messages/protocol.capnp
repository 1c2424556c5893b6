@0xf91a1469da0eaf3c;
# The wire protocol between fwrescue nodes. docs/protocol.md describes the exchange, the
# framing and the limits; messages/protocol.hpp holds the C++ value types these map to.
#
# Ordinals are stable: fields and message kinds are only ever added, never renumbered, removed
# or reused. A change a v1 reader cannot safely ignore bumps Envelope.protocolVersion instead.
# Every peer is untrusted: the decoder (messages/protocol.cpp) bounds every length.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("fwrescue::schema");

using Manifest = import "manifest.capnp";

enum NodeRole {
  peer @0;     # a server's BMC: a recipient that also donates its own verified image
  console @1;  # a management console: a donor with a catalog of images
}

# Recipient -> everyone (datagram): who has an image for this platform?
struct ImageRequest {
  requestId @0 :UInt64;
  nonce @1 :Data;                 # 16 random bytes; offers and accepts echo them
  requester @2 :Text;             # node id of the recipient
  platform @3 :Manifest.Platform;
  minSvn @4 :UInt32;              # the recipient's anti-rollback floor
  revocationSerial @5 :UInt64;    # serial of the newest revocation list it holds (0: none);
                                  # a donor holding a newer one sends it (RevocationNotice)
  excludeRoots @6 :List(Data);    # Merkle roots (32 bytes each, at most 8) of images that failed
                                  # to boot on the recipient's host: a donor does not offer them
  component @7 :Text;             # the firmware target to recover: 1-32 of [a-z0-9-]; a donor
                                  # offers only images whose manifest names it. Absent (a node
                                  # of an earlier release) reads "bios"
}

# What an offer's signature covers (inside SignedBody).
struct OfferBody {
  requestId @0 :UInt64;           # echo of ImageRequest.requestId
  nonce @1 :Data;                 # echo of ImageRequest.nonce (16 bytes)
  donor @2 :Text;                 # node id of the donor
  donorKey @3 :Data;              # the donor's Ed25519 node key (32 bytes); signs this body
  role @4 :NodeRole;
  activeUploads @5 :UInt32;       # uploads in progress
  maxUploads @6 :UInt32;          # the most the donor serves at once
  sessionAddress @7 :Text;        # where to open the session that takes the offer
  manifestBody @8 :Data;          # the offered image's encoded ManifestBody (release-signed)
  manifestSignature @9 :Data;     # Ed25519 over manifestBody by a release key (64 bytes)
  revocationSerial @10 :UInt64;   # serial of the newest revocation list the donor holds
  holds @11 :Data;                # the blocks of the image the donor holds, verified, as a
                                  # block set (docs/protocol.md); empty: all of them. A node
                                  # still recovering the image offers what it has so far
}

# What an accept's signature covers (inside SignedBody).
struct AcceptBody {
  requestId @0 :UInt64;
  nonce @1 :Data;                 # the request's nonce again (16 bytes)
  recipient @2 :Text;             # node id of the recipient
  recipientKey @3 :Data;          # the recipient's Ed25519 node key (32 bytes); signs this body
  merkleRoot @4 :Data;            # which of the donor's images: its manifest's root (32 bytes)
  donorKey @5 :Data;              # the node key of the donor taken up (32 bytes), so an accept
                                  # sent to one donor cannot be replayed to another
  acceptsZstd @6 :Bool;           # the donor may send BlockData runs compressed with zstd
  noLeaves @7 :Bool;              # the recipient needs no Leaves: it holds the digests, or asks
                                  # for the nodes it lacks with NodeRequest
  blocksHeld @8 :UInt64;          # blocks of the image the recipient holds already: a donor
                                  # with every slot taken gives one to the recipient holding
                                  # the fewest
}

# The bytes a node key signs. One node key signs both offers and accepts, so the union tag
# separates the two: a signed accept can never be read as a signed offer, or the other way round.
struct SignedBody {
  union {
    offer @0 :OfferBody;
    accept @1 :AcceptBody;
    fleetQuery @2 :FleetQueryBody;
    fleetAnswer @3 :FleetAnswerBody;
  }
}

# What a fleet query's signature covers (inside SignedBody). docs/fleet.md describes the exchange.
struct FleetQueryBody {
  queryId @0 :UInt64;
  nonce @1 :Data;                 # 16 random bytes; answers echo them
  asker @2 :Text;                 # node id of the node asking
  askerKey @3 :Data;              # its Ed25519 node key (32 bytes); signs this body
  padding @4 :Data;               # zero bytes that make the query at least as large as any
                                  # answer to it: an answer never exceeds the query it answers
}

# A link of the answering node, as its status shows it.
struct FleetLink {
  name @0 :Text;                  # "lan", "icmb", "ble"
  up @1 :Bool;
}

# One firmware target of the answering node.
struct FleetTarget {
  name @0 :Text;                  # the target's name ("bios")
  component @1 :Text;             # the component its manifests name
  version @2 :Text;               # installed image's version; empty: none recorded
  svn @3 :UInt32;
  root @4 :Data;                  # installed image's Merkle root (32 bytes), or empty
  state @5 :Text;                 # the recovery phase ("idle", "transferring", "done", ...)
  lastOutcome @6 :Text;           # last recovery: "succeeded", "failed", or empty: none yet
  lastNumber @7 :UInt64;          # its number (as status names it)
  lastAt @8 :Int64;               # when it finished, seconds since the epoch
}

# What a fleet answer's signature covers (inside SignedBody).
struct FleetAnswerBody {
  queryId @0 :UInt64;             # echo of FleetQueryBody.queryId
  nonce @1 :Data;                 # echo of FleetQueryBody.nonce (16 bytes)
  node @2 :Text;                  # node id of the answering node
  nodeKey @3 :Data;               # its Ed25519 node key (32 bytes); signs this body
  role @4 :NodeRole;
  links @5 :List(FleetLink);      # at most 8
  targets @6 :List(FleetTarget);  # at most 8
  truncated @7 :Bool;             # targets were left out to keep the answer within the query
}

# Donor -> recipient (datagram, to the request's sender).
struct Offer {
  body @0 :Data;                  # encoded SignedBody holding an OfferBody: exactly what is signed
  signature @1 :Data;             # Ed25519 over exactly `body` by OfferBody.donorKey (64 bytes)
}

# Recipient -> donor: first frame of a session.
struct Accept {
  body @0 :Data;                  # encoded SignedBody holding an AcceptBody: exactly what is signed
  signature @1 :Data;             # Ed25519 over exactly `body` by AcceptBody.recipientKey (64 B)
}

# Any node -> everyone (datagram): who is there, and what do its targets hold?
struct FleetQuery {
  body @0 :Data;                  # encoded SignedBody holding a FleetQueryBody: exactly what is signed
  signature @1 :Data;             # Ed25519 over exactly `body` by FleetQueryBody.askerKey (64 bytes)
}

# A node -> the asker (datagram, over the link the query came on).
struct FleetAnswer {
  body @0 :Data;                  # encoded SignedBody holding a FleetAnswerBody
  signature @1 :Data;             # Ed25519 over exactly `body` by FleetAnswerBody.nodeKey (64 bytes)
}

# Donor -> recipient: the transfer may start; Leaves frames follow.
struct Confirm {
  requestId @0 :UInt64;
  leavesOmitted @1 :Bool;         # the accept asked for no Leaves and none follow; the donor
                                  # answers NodeRequests (false: Leaves follow, as before)
}

# Donor -> recipient: at the upload limit.
struct Busy {
  requestId @0 :UInt64;
  retryAfterMs @1 :UInt32;
}

# Donor -> recipient: will not serve this accept.
struct Decline {
  requestId @0 :UInt64;
  reason @1 :Text;
}

# Donor -> recipient: digests of blocks [first, first + n) of the accepted image.
struct Leaves {
  first @0 :UInt64;
  digests @1 :Data;               # n * 32 bytes, 1 <= n <= 16384
}

# Recipient -> donor: send blocks [first, first + count).
struct BlockRequest {
  first @0 :UInt64;
  count @1 :UInt32;               # 1..1024
}

# Donor -> recipient: consecutive blocks [first, first + k), k >= 1, whole and in order; the
# bytes split into blocks by the manifest's block size (only the image's last block is short).
# A donor puts at most 64 KiB of blocks in one frame, or one block when a block is larger.
struct BlockData {
  first @0 :UInt64;
  bytes @1 :Data;                 # 1 .. 2^20 bytes
  encoding @2 :BlockEncoding;     # how `bytes` hold the run (raw for an older donor)
}

enum BlockEncoding {
  raw @0;                         # the blocks themselves
  zstd @1;                        # one zstd frame holding them; only when the accept said
                                  # acceptsZstd
}

# Recipient -> donor: send the Merkle tree's nodes [first, first + count) of `level` (0: the
# leaves, as docs/manifest.md §3 numbers the levels).
struct NodeRequest {
  level @0 :UInt8;
  first @1 :UInt64;
  count @2 :UInt32;               # 1..16384
}

# Donor -> recipient: the tree's nodes [first, first + n) of `level`, answering a NodeRequest.
struct Nodes {
  level @0 :UInt8;
  first @1 :UInt64;
  digests @2 :Data;               # n * 32 bytes, 1 <= n <= 16384
}

# Donor -> recipient, on a session serving an image the donor is itself still recovering: the
# blocks it holds now (a block set, docs/protocol.md), sent as the set grows. The recipient may
# ask for any block in the latest set it was told of.
struct Holdings {
  blocks @0 :Data;                # a block set over the image's blocks, 1..4096 bytes
}

# Recipient -> donor: every block arrived; the session ends.
struct Done {}

# Either side: the transfer stops.
struct Abort {
  reason @0 :Text;
}

# Answer to a message in a protocol version this node does not speak.
struct Refusal {
  supportedVersion @0 :UInt16;
  reason @1 :Text;
}

# Every datagram and every session frame holds exactly one Envelope.
struct Envelope {
  # Read before anything else; a reader that does not speak this version reads nothing more.
  protocolVersion @0 :UInt16;
  union {
    imageRequest @1 :ImageRequest;
    offer @2 :Offer;
    accept @3 :Accept;
    confirm @4 :Confirm;
    busy @5 :Busy;
    decline @6 :Decline;
    leaves @7 :Leaves;
    blockRequest @8 :BlockRequest;
    blockData @9 :BlockData;
    done @10 :Done;
    abort @11 :Abort;
    refusal @12 :Refusal;
    revocations @13 :Data;        # a revocation list file (FWRREVOK...), at most 1400 bytes:
                                  # a donor's answer to a request holding an older serial
    nodeRequest @14 :NodeRequest;
    nodes @15 :Nodes;
    holdings @16 :Holdings;
    fleetQuery @17 :FleetQuery;
    fleetAnswer @18 :FleetAnswer;
  }
}
