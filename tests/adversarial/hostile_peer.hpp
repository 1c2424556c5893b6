#pragma once

// The hostile peer's attacks. Each takes the parsed options, does its one attack against real
// daemons on loopback, prints one line per thing it did, and returns the exit status (0 when
// the attack ran, whatever the daemon did: judging the daemon is the test script's job).

#include <memory>
#include <string>
#include <vector>

#include "image/keys.hpp"
#include "messages/protocol.hpp"
#include "tests/adversarial/hostile_net.hpp"

namespace fwrescue::adversary {

struct peer_options {
  // Where the cluster is.
  std::string group = "239.255.77.1";
  uint16_t port = 0;
  std::string interface = "127.0.0.1";
  /// The address the peer sends and connects from: not the daemons' 127.0.0.1, so that limits
  /// per source tell the attacker from the honest nodes.
  std::string source = "127.0.0.66";
  std::string platform = "QEMU:q35";
  /// Node key file; a fresh key when empty.
  std::string node_key;
  std::string id = "hostile";
  /// Lifetime: the peer stops by itself after this many seconds.
  double seconds = 20;

  /// The donor to attack (its node id in its offers); any donor when empty.
  std::string donor;
  /// Only requests from this node are answered (lying-donor, forged-offers, replay).
  std::string requester;
  /// A daemon's session address, for attacks on its TCP port.
  std::string to;
  std::string manifest;
  std::string image;
  std::string mode;
  /// Role claimed in offers (peer or console); each subcommand has its own default.
  std::string role;
  int count = 0;
  int uses = 2;
  int requests = 80;
  int rcvbuf = 1;
  double rate = 5000;
  int sources = 64;
  bool reopen = false;
  /// forged-offers: each offer from its own address, 127.0.1.N.
  bool spread = false;
  int reopen_per_s = 200;
  int frame_ms = 1000;
  /// frame-flood: KiB of block bytes in each frame.
  int frame_kib = 60;
};

/// What every attack shares, derived once from the options.
struct peer {
  in_addr source{};
  in_addr interface {};
  sockaddr_in group{};
  platform_id platform;
  std::string id;
  std::unique_ptr<secret_key> key;
  clock::time_point end;

  bool running() const {
    return clock::now() < end;
  }
  int remaining_ms() const;
};

peer make_peer(const peer_options& o);

/// A fresh image request from this peer (random id and nonce, min_svn 0).
image_request new_request(const peer& p);

/// Broadcasts `req` from `fd` and returns the offers answering it (their node signatures
/// verified) that arrive within `window_ms`.
std::vector<offer> collect_offers(const peer& p, int fd, const image_request& req, int window_ms);

/// The offer from `donor` (the first when `donor` is empty); ends the program when none came.
offer pick_offer(const std::vector<offer>& offers, const std::string& donor);

/// The signed accept this peer would send to take `o` up.
accept accept_for(const peer& p, const image_request& req, const offer& o);

/// A signed manifest file (.fwm), with its block digests.
signed_manifest load_manifest(const std::string& path);

// Attacks on a donor, as a client.
int hog_slots(const peer& p, const peer_options& o);
int no_read(const peer& p, const peer_options& o);
int frame_flood(const peer& p, const peer_options& o);
int replay(const peer& p, const peer_options& o);
int flood(const peer& p, const peer_options& o);
// Attacks on a daemon's TCP port.
int idle_connections(const peer& p, const peer_options& o);
int half_open(const peer& p, const peer_options& o);
int oversize_frame(const peer& p, const peer_options& o);
// Attacks on a recipient, as a donor.
int forged_offers(const peer& p, const peer_options& o);
int lying_donor(const peer& p, const peer_options& o);
// Lies in the fleet view.
int fleet_impostor(const peer& p, const peer_options& o);

} // namespace fwrescue::adversary
