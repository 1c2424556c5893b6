// Attacks on a recipient by a peer that poses as a donor: offers under forged roles that lead
// nowhere, and a donor whose offer is genuine but whose session lies.

#include <deque>
#include <map>
#include <poll.h>
#include <set>
#include <sys/socket.h>
#include <thread>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "tests/adversarial/hostile_peer.hpp"

namespace fwrescue::adversary {

namespace {

/// The image request in a datagram, when it is one this peer answers.
std::optional<image_request> request_to_answer(const peer& p, const peer_options& o,
                                               const datagram& d) {
  auto m = decode(d.bytes);
  auto* req = m ? std::get_if<image_request>(&*m) : nullptr;
  if (!req || req->requester == p.id || (!o.requester.empty() && req->requester != o.requester)
      || req->platform != p.platform)
    return std::nullopt;
  return *req;
}

node_role parse_role(const std::string& role) {
  if (role == "console")
    return node_role::console;
  if (role == "peer")
    return node_role::peer;
  fatal("--role must be peer or console");
}

/// "address:port" of a listener bound to `bound`'s address.
std::string session_address(const sockaddr_in& bound, int listener) {
  return to_string(endpoint(bound.sin_addr, local_port(listener)));
}

/// A recipient's session with the forged donors: accepted and never answered.
struct silent_session {
  unique_fd fd;
  std::string from;
  clock::time_point since;
  frame_reader reader;
};

} // namespace

int forged_offers(const peer& p, const peer_options& o) {
  auto m = load_manifest(o.manifest);
  auto role = parse_role(o.role);
  auto group = group_socket(p.group.sin_addr, p.interface, ntohs(p.group.sin_port));
  // One address sends every offer and takes every session, or (--spread) each offer has an
  // address of its own, 127.0.1.N, so that no bound per source address trims them.
  struct forger {
    unique_fd sender;
    unique_fd listener;
    std::string address;
  };
  std::vector<forger> forgers;
  for (int i = 1; i <= (o.spread ? o.count : 1); ++i) {
    auto source = o.spread ? parse_ip(fmt::format("127.0.1.{}", i)) : p.source;
    forger f{udp_socket(source, p.interface), tcp_listener(source), {}};
    f.address = session_address(endpoint(source, 0), f.listener.get());
    forgers.push_back(std::move(f));
  }
  say("forged-offers: listening for image requests on {}; sessions at {}{}", to_string(p.group),
      forgers.front().address,
      o.spread ? fmt::format(" .. {}", forgers.back().address) : std::string{});
  std::map<std::array<uint8_t, 32>, std::string> names;
  std::vector<silent_session> sessions;
  int requests = 0, offered = 0, closed = 0;
  while (p.running()) {
    std::vector<pollfd> fds{{group.get(), POLLIN, 0}};
    for (auto& f : forgers)
      fds.push_back({f.listener.get(), POLLIN, 0});
    auto first_session = fds.size();
    for (auto& s : sessions)
      fds.push_back({s.fd.get(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), std::min(p.remaining_ms(), 500)) <= 0)
      continue;
    if (fds[0].revents != 0)
      while (auto d = receive_datagram(group.get(), 0)) {
        auto req = request_to_answer(p, o, *d);
        if (!req)
          continue;
        ++requests;
        for (int i = 1; i <= o.count; ++i) {
          auto key = secret_key::generate();
          auto name = fmt::format("forged-{:02}", i);
          names[key.public_part().bytes] = name;
          auto& by = forgers[static_cast<size_t>(i - 1) % forgers.size()];
          offer_fields f{req->request_id, req->challenge, name, key.public_part(), role, 0, 8,
                         by.address,      m.body,         m.sig};
          offered += send_datagram(by.sender.get(), d->from, encode(make_offer(std::move(f), key)));
        }
        say("request {:016x} from {} ({}): answered with {} offers claiming role {}, each "
            "signed by a fresh key, from {} address(es)",
            req->request_id, req->requester, to_string(d->from), o.count, o.role, forgers.size());
      }
    for (size_t k = 0; k < forgers.size(); ++k)
      while (fds[1 + k].revents != 0) {
        sockaddr_in from{};
        socklen_t len = sizeof(from);
        unique_fd fd{::accept4(forgers[k].listener.get(), reinterpret_cast<sockaddr*>(&from), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC)};
        if (fd.get() < 0)
          break;
        sessions.push_back({std::move(fd), to_string(from), clock::now(), {}});
      }
    for (size_t i = 0; i < sessions.size(); ++i) {
      if (first_session + i >= fds.size() || fds[first_session + i].revents == 0)
        continue;
      auto& s = sessions[i];
      for (;;) {
        auto r = s.reader.next(s.fd.get(), 0);
        if (r.what == frame_reader::status::timeout)
          break;
        auto after = std::chrono::duration<double>(clock::now() - s.since).count();
        if (r.what == frame_reader::status::closed) {
          say("session from {} closed by the recipient after {:.1f} s ({})", s.from, after,
              r.reason);
          ++closed;
          s.fd = unique_fd{};
          break;
        }
        auto msg = decode(r.frame);
        if (auto* a = msg ? std::get_if<accept>(&*msg) : nullptr) {
          auto n = names.find(a->fields.donor_key.bytes);
          say("session from {}: {} takes up {}; never answering", s.from, a->fields.recipient,
              n == names.end() ? std::string{"an unknown key"} : n->second);
        } else {
          say("session from {}: {} after {:.1f} s", s.from, describe_frame(r.frame), after);
        }
      }
    }
    std::erase_if(sessions, [](const auto& s) { return s.fd.get() < 0; });
  }
  say("forged-offers: {} request(s) answered with {} forged offers; {} session(s) opened to "
      "us, {} closed by the recipient",
      requests, offered, sessions.size() + static_cast<size_t>(closed), closed);
  return 0;
}

namespace {

/// The lying donor: its offer is genuine (a release-signed manifest, its own node signature);
/// what it sends in the session is not.
class liar {
public:
  liar(const peer& p, const peer_options& o)
    : p_(p), o_(o), manifest_(load_manifest(o.manifest)),
      image_(read_image(o.image, manifest_.fields.image_size)) {
    if (manifest_.block_digests.size() != manifest_.fields.block_count())
      fatal(o.manifest + " has no block digests");
  }

  int run();

private:
  static std::vector<uint8_t> read_image(const std::string& path, uint64_t size) {
    auto bytes = read_file(path, size, "image");
    if (!bytes)
      fatal(describe(bytes.error()));
    if (bytes->size() != size)
      fatal(path + " is not the size its manifest says");
    return std::move(*bytes);
  }

  const manifest& fields() const {
    return manifest_.fields;
  }
  std::span<const uint8_t> blocks(uint64_t first, uint64_t count) const {
    auto at = first * fields().block_size;
    auto end = std::min<uint64_t>(image_.size(), (first + count) * fields().block_size);
    return std::span{image_}.subspan(at, end - at);
  }
  clock::time_point session_deadline() const {
    return std::min(p_.end, clock::now() + std::chrono::seconds(5));
  }

  void offer_to(int sender, const datagram& d, const image_request& req);
  void serve(unique_fd fd, const std::string& from);
  /// Answers one block request the way the mode lies; false ends the session.
  bool answer(int fd, const block_request& r);
  bool send_blocks(int fd, uint64_t first, uint64_t count, bool corrupt);
  bool stream_endlessly(int fd, const block_request& r);
  bool trickle(int fd, const block_request& r);
  /// Whether the recipient aborted or closed (checked between frames without waiting).
  bool recipient_gone(int fd);

  const peer& p_;
  const peer_options& o_;
  signed_manifest manifest_;
  std::vector<uint8_t> image_;
  std::string address_;
  std::map<uint64_t, nonce> offers_;
  std::set<uint64_t> requested_;
  /// Block requests read while a slow answer was being trickled.
  std::deque<block_request> pending_;
  frame_reader reader_;
  std::string gone_;
};

int liar::run() {
  auto group = group_socket(p_.group.sin_addr, p_.interface, ntohs(p_.group.sin_port));
  auto sender = udp_socket(p_.source, p_.interface);
  auto listener = tcp_listener(p_.source);
  address_ = session_address(endpoint(p_.source, 0), listener.get());
  say("lying-donor ({}): {} {} svn {}; listening on {}; sessions at {}", o_.mode, p_.id,
      fields().version, fields().svn, to_string(p_.group), address_);
  while (p_.running()) {
    pollfd fds[2] = {{group.get(), POLLIN, 0}, {listener.get(), POLLIN, 0}};
    if (::poll(fds, 2, std::min(p_.remaining_ms(), 500)) <= 0)
      continue;
    if (fds[0].revents != 0)
      while (auto d = receive_datagram(group.get(), 0))
        if (auto req = request_to_answer(p_, o_, *d))
          offer_to(sender.get(), *d, *req);
    if (fds[1].revents != 0) {
      sockaddr_in from{};
      socklen_t len = sizeof(from);
      unique_fd fd{::accept4(listener.get(), reinterpret_cast<sockaddr*>(&from), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC)};
      // One session at a time: a recipient opens one per donor it tries.
      if (fd.get() >= 0)
        serve(std::move(fd), to_string(from));
    }
  }
  say("lying-donor: lifetime over");
  return 0;
}

void liar::offer_to(int sender, const datagram& d, const image_request& req) {
  offer_fields f{
    req.request_id, req.challenge,  p_.id,        p_.key->public_part(), parse_role(o_.role), 0, 8,
    address_,       manifest_.body, manifest_.sig};
  send_datagram(sender, d.from, encode(make_offer(std::move(f), *p_.key)));
  offers_[req.request_id] = req.challenge;
  say("offered {} svn {} to {} ({}) for request {:016x}", fields().version, fields().svn,
      req.requester, to_string(d.from), req.request_id);
}

void liar::serve(unique_fd fd, const std::string& from) {
  reader_ = frame_reader{};
  pending_.clear();
  requested_.clear();
  gone_.clear();
  auto first = reader_.next(fd.get(), 5000);
  std::optional<wire_message> msg;
  if (first.what == frame_reader::status::frame)
    if (auto decoded = decode(first.frame))
      msg = std::move(*decoded);
  auto* a = msg ? std::get_if<accept>(&*msg) : nullptr;
  auto o = a ? offers_.find(a->fields.request_id) : offers_.end();
  if (!a || !verify_accept(*a) || a->fields.donor_key != p_.key->public_part() || o == offers_.end()
      || o->second != a->fields.challenge || a->fields.merkle_root != fields().merkle_root) {
    say("session from {}: no valid accept for one of our offers; closing", from);
    return;
  }
  auto deadline = session_deadline();
  send_message(fd.get(), confirm{a->fields.request_id}, deadline);
  auto digests = manifest_.block_digests;
  if (o_.mode == "bad-leaves")
    digests[digests.size() / 2][0] ^= 0x01;
  for (size_t at = 0; at < digests.size(); at += wire_limits::max_leaves_per_message) {
    auto n = std::min(wire_limits::max_leaves_per_message, digests.size() - at);
    send_message(
      fd.get(),
      leaves{
        at, {digests.begin() + static_cast<long>(at), digests.begin() + static_cast<long>(at + n)}},
      deadline);
  }
  say("session from {}: confirmed {}'s accept; sent {} block digests{}", from, a->fields.recipient,
      digests.size(),
      o_.mode == "bad-leaves" ? fmt::format(" (digest {} altered)", digests.size() / 2) : "");
  auto start = clock::now();
  while (p_.running()) {
    if (!pending_.empty()) {
      auto q = pending_.front();
      pending_.pop_front();
      if (!answer(fd.get(), q))
        break;
      continue;
    }
    auto r = reader_.next(fd.get(), p_.remaining_ms());
    if (r.what == frame_reader::status::closed) {
      gone_ = "closed: " + r.reason;
      break;
    }
    if (r.what == frame_reader::status::timeout)
      continue;
    auto m = decode(r.frame);
    if (auto* q = m ? std::get_if<block_request>(&*m) : nullptr) {
      if (!answer(fd.get(), *q))
        break;
      continue;
    }
    gone_ = describe_frame(r.frame);
    if (m && (std::holds_alternative<done>(*m) || std::holds_alternative<abort_transfer>(*m)))
      break;
  }
  say("session from {} ended after {:.1f} s: {}", from,
      std::chrono::duration<double>(clock::now() - start).count(),
      gone_.empty() ? "lifetime over" : "the recipient's " + gone_);
}

bool liar::answer(int fd, const block_request& r) {
  auto n = fields().block_count();
  if (r.first >= n || r.count > n - r.first) {
    say("asked for blocks {}..{}, which do not exist", r.first, r.first + r.count);
    return false;
  }
  for (uint64_t i = r.first; i < r.first + r.count; ++i)
    requested_.insert(i);
  if (o_.mode == "honest" || o_.mode == "bad-blocks" || o_.mode == "bad-leaves") {
    say("asked for blocks {}..{}; sending them{}", r.first, r.first + r.count,
        o_.mode == "bad-blocks" ? " with the first byte of each flipped" : "");
    return send_blocks(fd, r.first, r.count, o_.mode == "bad-blocks");
  }
  if (o_.mode == "unrequested") {
    uint64_t other = 0;
    while (other < n && requested_.count(other))
      ++other;
    say("asked for blocks {}..{}; sending block {} instead", r.first, r.first + r.count, other);
    return send_message(fd, block_data{other, {blocks(other, 1).begin(), blocks(other, 1).end()}},
                        session_deadline());
  }
  if (o_.mode == "endless")
    return stream_endlessly(fd, r);
  if (o_.mode == "slow")
    return trickle(fd, r);
  fatal("--mode must be honest, bad-blocks, bad-leaves, unrequested, endless or slow");
}

bool liar::send_blocks(int fd, uint64_t first, uint64_t count, bool corrupt) {
  auto per_frame = std::max<uint64_t>(1, block_data_bytes / fields().block_size);
  for (auto b = first; b < first + count; b += per_frame) {
    auto k = std::min(per_frame, first + count - b);
    auto run = blocks(b, k);
    block_data d{b, {run.begin(), run.end()}};
    if (corrupt)
      for (size_t at = 0; at < d.bytes.size(); at += fields().block_size)
        d.bytes[at] ^= 0xff;
    if (!send_message(fd, d, session_deadline()))
      return false;
  }
  return true;
}

bool liar::stream_endlessly(int fd, const block_request& r) {
  // First a frame larger than asked for (the requested run and 16 blocks more), then frames of
  // 1 MiB, as long as the recipient takes them.
  auto n = fields().block_count();
  auto extra = std::min<uint64_t>(r.count + 16, n - r.first);
  auto run = blocks(r.first, extra);
  say("asked for blocks {}..{}; sending {}..{} in one frame, then 1 MiB frames without end",
      r.first, r.first + r.count, r.first, r.first + extra);
  if (!send_message(fd, block_data{r.first, {run.begin(), run.end()}}, session_deadline()))
    return false;
  auto per_mib = (1u << 20) / fields().block_size;
  uint64_t frames = 0;
  auto start = clock::now();
  for (uint64_t b = 0; p_.running() && !recipient_gone(fd); b = (b + per_mib) % (n - per_mib)) {
    auto chunk = blocks(b, per_mib);
    if (!send_message(fd, block_data{b, {chunk.begin(), chunk.end()}}, session_deadline())) {
      gone_ = "refusal to take more";
      break;
    }
    ++frames;
  }
  say("sent {} frames of 1 MiB in {:.1f} s beyond what was asked", frames,
      std::chrono::duration<double>(clock::now() - start).count());
  return false;
}

bool liar::trickle(int fd, const block_request& r) {
  say("asked for blocks {}..{}; trickling them, one block a frame, {} ms a frame", r.first,
      r.first + r.count, o_.frame_ms);
  for (auto b = r.first; b < r.first + r.count; ++b) {
    auto run = blocks(b, 1);
    auto payload = encode(block_data{b, {run.begin(), run.end()}});
    auto header = frame_header(static_cast<uint32_t>(payload.size()));
    std::vector<uint8_t> frame(header.begin(), header.end());
    frame.insert(frame.end(), payload.begin(), payload.end());
    // A few bytes at a time, so that the frame takes frame_ms to arrive.
    constexpr size_t piece = 64;
    auto pieces = (frame.size() + piece - 1) / piece;
    auto pause =
      std::chrono::microseconds(int64_t{o_.frame_ms} * 1000) / static_cast<int64_t>(pieces);
    for (size_t at = 0; at < frame.size(); at += piece) {
      if (!p_.running() || recipient_gone(fd))
        return false;
      auto len = std::min(piece, frame.size() - at);
      if (!write_all(fd, std::span{frame}.subspan(at, len), session_deadline())) {
        gone_ = "refusal to take more";
        return false;
      }
      std::this_thread::sleep_for(pause);
    }
  }
  return true;
}

bool liar::recipient_gone(int fd) {
  auto r = reader_.next(fd, 0);
  if (r.what == frame_reader::status::closed) {
    gone_ = "closed: " + r.reason;
    return true;
  }
  if (r.what == frame_reader::status::frame) {
    auto m = decode(r.frame);
    if (m && std::holds_alternative<block_request>(*m)) {
      pending_.push_back(std::get<block_request>(*m));
      return false;
    }
    gone_ = describe_frame(r.frame);
    return true;
  }
  return false;
}

} // namespace

int lying_donor(const peer& p, const peer_options& o) {
  return liar{p, o}.run();
}

} // namespace fwrescue::adversary
