// hostile_peer: a peer that lies, hogs and floods, for the adversarial tests. One subcommand per
// attack; each stops by itself after --seconds and prints one line per thing it did.
//
//   hostile_peer hog-slots --port P --donor console --uses 2
//   hostile_peer no-read --port P --donor console --requests 80
//   hostile_peer frame-flood --port P --donor console
//   hostile_peer forged-offers --port P --requester bmc-c --count 25 --manifest bios.fwm
//   hostile_peer lying-donor --port P --requester bmc-c --mode bad-blocks --manifest M --image I
//   hostile_peer replay --port P --mode offer|accept --donor console [--requester bmc-c]
//   hostile_peer flood --port P --rate 5000 --sources 64
//   hostile_peer fleet-impostor --port P --id bmc-b [--role peer|console] [--requester bmc-c]
//   hostile_peer idle-connections --to 127.0.0.1:PORT --count 1100 [--reopen]
//   hostile_peer half-open --to 127.0.0.1:PORT --count 6
//   hostile_peer oversize-frame --to 127.0.0.1:PORT
//
// Only 127.0.0.0/8 and multicast groups are accepted as addresses; multicast leaves with TTL 0.

#include <arpa/inet.h>
#include <csignal>

#include <CLI/CLI.hpp>
#include <sodium.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "tests/adversarial/hostile_peer.hpp"

namespace fwrescue::adversary {

int peer::remaining_ms() const {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(end - clock::now()).count();
  return static_cast<int>(std::clamp<decltype(ms)>(ms, 0, 60'000));
}

peer make_peer(const peer_options& o) {
  peer p;
  p.source = parse_ip(o.source);
  p.interface = parse_ip(o.interface);
  p.group = endpoint(parse_ip(o.group), o.port);
  auto colon = o.platform.find(':');
  if (colon == std::string::npos)
    fatal("--platform must be VENDOR:BOARD");
  p.platform = {o.platform.substr(0, colon), o.platform.substr(colon + 1)};
  p.id = o.id;
  if (o.node_key.empty()) {
    p.key = std::make_unique<secret_key>(secret_key::generate());
  } else {
    auto key = load_secret_key(o.node_key);
    if (!key)
      fatal(describe(key.error()));
    p.key = std::make_unique<secret_key>(std::move(*key));
  }
  p.end = clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.seconds * 1000));
  return p;
}

image_request new_request(const peer& p) {
  image_request req;
  randombytes_buf(&req.request_id, sizeof(req.request_id));
  randombytes_buf(req.challenge.data(), req.challenge.size());
  req.requester = p.id;
  req.platform = p.platform;
  return req;
}

std::vector<offer> collect_offers(const peer& p, int fd, const image_request& req, int window_ms) {
  if (!send_datagram(fd, p.group, encode(req)))
    fatal("cannot send an image request to the group");
  std::vector<offer> out;
  auto until = clock::now() + std::chrono::milliseconds(window_ms);
  while (clock::now() < until) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(until - clock::now()).count();
    auto d = receive_datagram(fd, static_cast<int>(left));
    if (!d)
      continue;
    auto m = decode(d->bytes);
    auto* o = m ? std::get_if<offer>(&*m) : nullptr;
    if (!o || o->fields.request_id != req.request_id || !verify_offer(*o))
      continue;
    say("offer from {} ({}, {}), sessions at {}", o->fields.donor, to_string(o->fields.role),
        to_string(d->from), o->fields.session_address);
    out.push_back(std::move(*o));
  }
  return out;
}

offer pick_offer(const std::vector<offer>& offers, const std::string& donor) {
  for (const auto& o : offers)
    if (donor.empty() || o.fields.donor == donor)
      return o;
  fatal(fmt::format("no offer from {} within the discovery window",
                    donor.empty() ? "any donor" : donor));
}

accept accept_for(const peer& p, const image_request& req, const offer& o) {
  auto m = offered_manifest(o);
  if (!m)
    fatal("the offer carries a bad manifest: " + describe(m.error()));
  return make_accept({req.request_id, req.challenge, p.id, p.key->public_part(),
                      m->fields.merkle_root, o.fields.donor_key},
                     *p.key);
}

signed_manifest load_manifest(const std::string& path) {
  auto bytes = read_file(path, manifest_limits::max_file_bytes + 8, "manifest");
  if (!bytes)
    fatal(describe(bytes.error()));
  auto m = decode_manifest_file(*bytes);
  if (!m)
    fatal(describe(m.error()));
  return std::move(*m);
}

} // namespace fwrescue::adversary

namespace {

using namespace fwrescue::adversary;

using attack = int (*)(const peer&, const peer_options&);

/// Options every subcommand takes.
void add_common(CLI::App& cmd, peer_options& o) {
  cmd.add_option("--port", o.port, "the cluster's discovery port");
  cmd.add_option("--group", o.group, "the cluster's multicast group")->capture_default_str();
  cmd.add_option("--interface", o.interface, "interface multicast leaves through")
    ->capture_default_str();
  cmd.add_option("--source", o.source, "loopback address to send and connect from")
    ->capture_default_str();
  cmd.add_option("--platform", o.platform, "VENDOR:BOARD asked for or claimed")
    ->capture_default_str();
  cmd.add_option("--node-key", o.node_key, "node secret key file (default: a fresh key)");
  cmd.add_option("--id", o.id, "node id this peer gives")->capture_default_str();
  cmd.add_option("--seconds", o.seconds, "lifetime; the peer stops by itself")
    ->capture_default_str();
}

} // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0)
    return 2;
  // A peer that closed its end must show as a failed write, not end this program.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"hostile_peer: lies to, hogs and floods fwrescue daemons on loopback"};
  app.require_subcommand(1);
  peer_options o;
  std::vector<std::pair<CLI::App*, attack>> attacks;
  auto sub = [&](const char* name, const char* help, attack run) {
    auto* cmd = app.add_subcommand(name, help);
    add_common(*cmd, o);
    attacks.emplace_back(cmd, run);
    return cmd;
  };

  auto* hog = sub("hog-slots",
                  "take one genuine offer; use its signed accept --uses times on "
                  "separate connections; never request a block",
                  hog_slots);
  hog->add_option("--donor", o.donor, "donor to attack (node id)");
  hog->add_option("--uses", o.uses, "connections using the one accept")->capture_default_str();

  auto* noread = sub("no-read",
                     "after a confirmed accept, request the whole image --requests "
                     "times and never read",
                     no_read);
  noread->add_option("--donor", o.donor, "donor to attack (node id)");
  noread->add_option("--requests", o.requests, "block requests sent")->capture_default_str();
  noread->add_option("--rcvbuf", o.rcvbuf, "SO_RCVBUF of the socket")->capture_default_str();

  auto* ff = sub("frame-flood",
                 "after a confirmed accept, send block_data frames (which a donor "
                 "never expects) as fast as the donor reads them",
                 frame_flood);
  ff->add_option("--donor", o.donor, "donor to attack (node id)");
  ff->add_option("--frame-kib", o.frame_kib, "KiB of block bytes per frame")->capture_default_str();

  auto* forged = sub("forged-offers",
                     "answer a recipient's requests with --count offers, each "
                     "signed by a fresh key and claiming role console, pointing "
                     "at a listener that never answers",
                     forged_offers);
  forged->add_option("--requester", o.requester, "only answer this node's requests");
  forged->add_option("--count", o.count, "offers per request (default 25)");
  forged->add_option("--manifest", o.manifest, "genuine .fwm whose body and signature to carry")
    ->required();
  forged->add_option("--role", o.role, "role claimed: console (default) or peer");
  forged->add_flag("--spread", o.spread,
                   "send each offer from its own address, 127.0.1.N, with its own listener");

  auto* liar = sub("lying-donor",
                   "answer requests with a signed offer of a genuine manifest, "
                   "then lie in the session",
                   lying_donor);
  liar->add_option("--mode", o.mode, "honest|bad-blocks|bad-leaves|unrequested|endless|slow")
    ->required();
  liar->add_option("--requester", o.requester, "only answer this node's requests");
  liar->add_option("--manifest", o.manifest, "genuine .fwm (with block digests)")->required();
  liar->add_option("--image", o.image, "the image the manifest describes")->required();
  liar->add_option("--role", o.role, "role claimed: peer (default) or console");
  liar->add_option("--frame-ms", o.frame_ms, "slow mode: milliseconds to trickle each frame")
    ->capture_default_str();

  auto* rep = sub("replay",
                  "offer: replay a captured genuine offer to a recipient's new "
                  "request (and a copy re-addressed to it); accept: send an accept "
                  "to another donor, and use it twice",
                  replay);
  rep->add_option("--mode", o.mode, "offer|accept")->required();
  rep->add_option("--donor", o.donor, "donor whose offer or accept is replayed")->required();
  rep->add_option("--requester", o.requester, "offer mode: the recipient to replay to");

  auto* imp =
    sub("fleet-impostor", "answer every fleet query, signed with this peer's key, claiming --id",
        fleet_impostor);
  imp->add_option("--requester", o.requester, "only answer this node's queries");
  imp->add_option("--role", o.role, "role claimed: peer (default) or console");

  auto* fl = sub("flood", "send image requests at --rate per second from --sources ports", flood);
  fl->add_option("--rate", o.rate, "requests per second")->capture_default_str();
  fl->add_option("--sources", o.sources, "source ports")->capture_default_str();

  auto* idle = sub("idle-connections", "open --count TCP connections to --to and hold them idle",
                   idle_connections);
  idle->add_option("--to", o.to, "the daemon's session address")->required();
  idle->add_option("--count", o.count, "connections (default 1100)");
  idle->add_flag("--reopen", o.reopen, "reopen the connections the daemon closes");
  idle->add_option("--reopen-per-s", o.reopen_per_s, "at most this many reopens a second")
    ->capture_default_str();

  auto* half =
    sub("half-open", "connect --count times and send 3 bytes of a frame header", half_open);
  half->add_option("--to", o.to, "the daemon's session address")->required();
  half->add_option("--count", o.count, "connections (default 6)");

  auto* big = sub("oversize-frame",
                  "send frame headers announcing 0xffffffff, 0x80000000 and "
                  "2 MiB + 1 bytes, one connection each",
                  oversize_frame);
  big->add_option("--to", o.to, "the daemon's session address")->required();

  CLI11_PARSE(app, argc, argv);
  for (auto& [cmd, run] : attacks) {
    if (!cmd->parsed())
      continue;
    auto needs_group = run != idle_connections && run != half_open && run != oversize_frame;
    if (needs_group && o.port == 0)
      fatal("--port (the cluster's discovery port) is required");
    // Subcommands share one options struct, so defaults that differ between them are applied
    // here, once it is known which one runs.
    auto name = cmd->get_name();
    if (o.count == 0)
      o.count = name == "forged-offers" ? 25 : name == "idle-connections" ? 1100 : 6;
    if (o.role.empty())
      o.role = name == "forged-offers" ? "console" : "peer";
    auto p = make_peer(o);
    say("{}: started as {} from {} for {} s", name, o.id, o.source, o.seconds);
    return run(p, o);
  }
  return 2;
}
