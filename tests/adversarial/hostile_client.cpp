// Attacks on a donor by a peer that asks for an image: hog its upload slots, queue data it can
// never send, replay offers and accepts, flood it with requests.

#include <cstring>
#include <map>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <thread>

#include "tests/adversarial/hostile_peer.hpp"

namespace fwrescue::adversary {

namespace {

/// One session this peer opened to a donor and holds.
struct held_session {
  unique_fd fd;
  int use = 0;
  clock::time_point since;
  frame_reader reader;
  bool open = true;
};

/// Connects to `o`'s session address and sends `a`; the donor's first answer, described
/// ("confirm", "decline: ..."), and the connection when it was confirmed.
std::string use_accept(const peer& p, const offer& o, const accept& a, held_session& out) {
  std::string error;
  out.fd = connect_to(p.source, parse_endpoint(o.fields.session_address), 2000, error);
  if (out.fd.get() < 0)
    return "cannot connect: " + error;
  if (!send_message(out.fd.get(), a, clock::now() + std::chrono::seconds(2)))
    return "cannot send the accept";
  auto first = out.reader.next(out.fd.get(), 3000);
  if (first.what == frame_reader::status::timeout)
    return "no answer within 3 s";
  if (first.what == frame_reader::status::closed)
    return "closed: " + first.reason;
  out.since = clock::now();
  return describe_frame(first.frame);
}

/// Watches held sessions until the peer's lifetime ends, reading (and discarding) what donors
/// send, and says when a donor ends one.
void watch(const peer& p, std::vector<held_session>& held) {
  while (p.running()) {
    std::vector<pollfd> fds;
    for (auto& h : held)
      fds.push_back({h.open ? h.fd.get() : -1, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), std::min(p.remaining_ms(), 500)) <= 0)
      continue;
    for (size_t i = 0; i < held.size(); ++i) {
      if (fds[i].revents == 0)
        continue;
      auto& h = held[i];
      for (;;) {
        auto r = h.reader.next(h.fd.get(), 0);
        if (r.what == frame_reader::status::timeout)
          break;
        auto after = std::chrono::duration<double>(clock::now() - h.since).count();
        if (r.what == frame_reader::status::closed) {
          say("connection {} closed by the donor after {:.1f} s: {}", h.use, after, r.reason);
          h.open = false;
          break;
        }
        auto text = describe_frame(r.frame);
        if (text.rfind("leaves", 0) != 0)
          say("connection {}: {} after {:.1f} s", h.use, text, after);
      }
    }
  }
}

} // namespace

int hog_slots(const peer& p, const peer_options& o) {
  auto udp = udp_socket(p.source, p.interface);
  auto req = new_request(p);
  auto taken = pick_offer(collect_offers(p, udp.get(), req, 500), o.donor);
  auto a = accept_for(p, req, taken);
  say("took {}'s offer ({} of {} upload slots in use); using its one signed accept {} times",
      taken.fields.donor, taken.fields.active_uploads, taken.fields.max_uploads, o.uses);
  std::vector<held_session> held;
  for (int use = 1; use <= o.uses; ++use) {
    held_session h;
    h.use = use;
    auto answer = use_accept(p, taken, a, h);
    say("accept use {}: {}", use, answer);
    if (answer == "confirm")
      held.push_back(std::move(h));
  }
  say("holding {} confirmed upload(s) without requesting a block", held.size());
  watch(p, held);
  auto still = std::count_if(held.begin(), held.end(), [](const auto& h) { return h.open; });
  say("hog-slots: {} of {} confirmed upload(s) still held at the end", still, held.size());
  return 0;
}

int no_read(const peer& p, const peer_options& o) {
  auto udp = udp_socket(p.source, p.interface);
  auto req = new_request(p);
  auto taken = pick_offer(collect_offers(p, udp.get(), req, 500), o.donor);
  auto a = accept_for(p, req, taken); // ends the program when the offered manifest is bad
  auto manifest = offered_manifest(taken);
  auto blocks = manifest->fields.block_count();
  auto count = static_cast<uint32_t>(std::min<uint64_t>(blocks, 1024));
  std::string error;
  auto fd =
    connect_to(p.source, parse_endpoint(taken.fields.session_address), 2000, error, o.rcvbuf);
  if (fd.get() < 0)
    fatal("cannot connect to " + taken.fields.session_address + ": " + error);
  int rcvbuf = 0;
  socklen_t len = sizeof(rcvbuf);
  ::getsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
  auto deadline = clock::now() + std::chrono::seconds(5);
  if (!send_message(fd.get(), a, deadline))
    fatal("cannot send the accept");
  int sent = 0;
  for (; sent < o.requests; ++sent)
    if (!send_message(fd.get(), block_request{0, count}, deadline))
      break;
  auto asked = static_cast<double>(sent) * static_cast<double>(manifest->fields.image_size) * count
               / static_cast<double>(blocks) / (1 << 20);
  say("sent an accept and {} block requests for blocks 0..{} ({:.0f} MiB asked for) to {}; "
      "receive buffer {} bytes; not reading",
      sent, count, asked, taken.fields.donor, rcvbuf);
  std::this_thread::sleep_for(p.end - clock::now());
  // Now read what the donor queued, for at most 3 s: how much it had, and whether it ended the
  // session.
  frame_reader reader;
  uint64_t bytes = 0, frames = 0, blocks_got = 0;
  std::string last_abort, ended;
  auto until = clock::now() + std::chrono::seconds(3);
  while (clock::now() < until && ended.empty()) {
    auto r = reader.next(fd.get(), 500);
    if (r.what == frame_reader::status::closed)
      ended = r.reason;
    if (r.what != frame_reader::status::frame)
      continue;
    ++frames;
    bytes += r.frame.size() + 4;
    auto m = decode(r.frame);
    if (m && std::holds_alternative<block_data>(*m))
      ++blocks_got;
    if (m && std::holds_alternative<abort_transfer>(*m))
      last_abort = std::get<abort_transfer>(*m).reason;
  }
  say("drained {:.1f} MiB in {} frames ({} block_data){}; the session {}",
      static_cast<double>(bytes) / (1 << 20), frames, blocks_got,
      last_abort.empty() ? "" : "; abort: " + last_abort,
      ended.empty() ? "was still open" : "was ended by the donor (" + ended + ")");
  return 0;
}

int frame_flood(const peer& p, const peer_options& o) {
  auto udp = udp_socket(p.source, p.interface);
  auto req = new_request(p);
  auto taken = pick_offer(collect_offers(p, udp.get(), req, 500), o.donor);
  held_session h;
  auto answer = use_accept(p, taken, accept_for(p, req, taken), h);
  say("accept: {}", answer);
  if (h.fd.get() < 0)
    fatal("no session to flood");
  // A donor never receives block_data. Frames of a few KiB pass any limit a donor may set on
  // the frames it takes; what they cost is their number.
  auto payload = encode(block_data{0, std::vector<uint8_t>(size_t(o.frame_kib) << 10, 0x5a)});
  auto header = frame_header(static_cast<uint32_t>(payload.size()));
  std::vector<uint8_t> frame(header.size() + payload.size());
  std::memcpy(frame.data(), header.data(), header.size());
  std::memcpy(frame.data() + header.size(), payload.data(), payload.size());
  say("sending {}-byte block_data frames to {} as fast as it takes them", payload.size(),
      taken.fields.donor);
  uint64_t sent = 0;
  size_t at = 0; // bytes of the current frame written: a frame is always finished
  std::string ended;
  auto start = clock::now();
  while (p.running() && ended.empty()) {
    pollfd out{h.fd.get(), POLLOUT, 0};
    if (::poll(&out, 1, 200) > 0) {
      auto n =
        ::send(h.fd.get(), frame.data() + at, frame.size() - at, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0)
        at += static_cast<size_t>(n);
      if (at == frame.size()) {
        ++sent;
        at = 0;
      }
    }
    // Whatever the donor says is read, so that only its reading limits the flood.
    for (;;) {
      auto r = h.reader.next(h.fd.get(), 0);
      if (r.what == frame_reader::status::timeout)
        break;
      if (r.what == frame_reader::status::closed) {
        ended = r.reason;
        break;
      }
      auto text = describe_frame(r.frame);
      if (text.rfind("leaves", 0) != 0)
        say("the donor sent {}", text);
    }
  }
  auto took = std::chrono::duration<double>(clock::now() - start).count();
  say("frame-flood: sent {} frames of {} KiB in {:.1f} s ({:.0f} MiB/s); the session {}", sent,
      o.frame_kib, took, static_cast<double>(sent * payload.size()) / took / (1 << 20),
      ended.empty() ? "was still open" : "was ended by the donor (" + ended + ")");
  return 0;
}

namespace {

int replay_offer(const peer& p, const peer_options& o) {
  auto udp = udp_socket(p.source, p.interface);
  auto own = new_request(p);
  auto captured = pick_offer(collect_offers(p, udp.get(), own, 500), o.donor);
  say("captured {}'s offer for our request {:016x}", captured.fields.donor, own.request_id);
  auto group = group_socket(p.group.sin_addr, p.interface, ntohs(p.group.sin_port));
  int answered = 0;
  while (p.running()) {
    auto d = receive_datagram(group.get(), p.remaining_ms());
    if (!d)
      continue;
    auto m = decode(d->bytes);
    auto* req = m ? std::get_if<image_request>(&*m) : nullptr;
    if (!req || req->requester == p.id || (!o.requester.empty() && req->requester != o.requester))
      continue;
    send_datagram(udp.get(), d->from, encode(captured));
    // The same offer re-addressed to the new request, under the signature of the old one.
    auto fields = captured.fields;
    fields.request_id = req->request_id;
    fields.challenge = req->challenge;
    auto forged = make_offer(std::move(fields), *p.key);
    forged.sig = captured.sig;
    send_datagram(udp.get(), d->from, encode(forged));
    ++answered;
    say("request {:016x} from {} ({}): replayed {}'s captured offer, and a copy re-addressed "
        "to this request under the old signature",
        req->request_id, req->requester, to_string(d->from), captured.fields.donor);
  }
  say("replay: answered {} request(s)", answered);
  return 0;
}

int replay_accept(const peer& p, const peer_options& o) {
  auto udp = udp_socket(p.source, p.interface);
  auto req = new_request(p);
  auto offers = collect_offers(p, udp.get(), req, 500);
  auto taken = pick_offer(offers, o.donor);
  auto a = accept_for(p, req, taken);
  for (const auto& other : offers) {
    if (other.fields.donor == taken.fields.donor)
      continue;
    held_session h;
    say("accept for {} sent to {}: {}", taken.fields.donor, other.fields.donor,
        use_accept(p, other, a, h));
  }
  for (int use = 1; use <= 2; ++use) {
    held_session h;
    auto answer = use_accept(p, taken, a, h);
    say("accept for {}, use {}: {}", taken.fields.donor, use, answer);
    if (answer == "confirm")
      send_message(h.fd.get(), done{}, clock::now() + std::chrono::seconds(1));
  }
  return 0;
}

} // namespace

int replay(const peer& p, const peer_options& o) {
  if (o.mode == "offer")
    return replay_offer(p, o);
  if (o.mode == "accept")
    return replay_accept(p, o);
  fatal("--mode must be offer or accept");
}

int flood(const peer& p, const peer_options& o) {
  std::vector<unique_fd> sockets;
  for (int i = 0; i < o.sources; ++i)
    sockets.push_back(udp_socket(p.source, p.interface));
  say("flooding {} with image requests at {:.0f}/s from {} ports", to_string(p.group), o.rate,
      o.sources);
  auto start = clock::now();
  uint64_t sent = 0, offers = 0, failed = 0, second_sent = 0, second_offers = 0;
  auto next_report = start + std::chrono::seconds(1);
  std::map<std::string, uint64_t> by_donor;
  std::vector<pollfd> fds;
  for (auto& s : sockets)
    fds.push_back({s.get(), POLLIN, 0});
  while (p.running()) {
    auto due =
      static_cast<uint64_t>(std::chrono::duration<double>(clock::now() - start).count() * o.rate);
    for (; sent < due; ++sent) {
      auto req = new_request(p);
      if (!send_datagram(sockets[sent % sockets.size()].get(), p.group, encode(req)))
        ++failed;
    }
    if (::poll(fds.data(), fds.size(), 1) > 0)
      for (auto& f : fds)
        while ((f.revents & POLLIN) != 0) {
          auto d = receive_datagram(f.fd, 0);
          if (!d)
            break;
          auto m = decode(d->bytes);
          if (m && std::holds_alternative<offer>(*m)) {
            ++offers;
            ++by_donor[std::get<offer>(*m).fields.donor];
          }
        }
    if (clock::now() >= next_report) {
      say("flood: {} requests sent, {} offers back in the last second", sent - second_sent,
          offers - second_offers);
      second_sent = sent;
      second_offers = offers;
      next_report += std::chrono::seconds(1);
    }
  }
  auto took = std::chrono::duration<double>(clock::now() - start).count();
  for (const auto& [donor, n] : by_donor)
    say("flood: {} offers from {} ({:.1f}/s)", n, donor, static_cast<double>(n) / took);
  say("flood: sent {} image requests in {:.1f} s ({:.0f}/s, {} not sent) from {} ports; {} "
      "offers came back ({:.1f}/s)",
      sent, took, static_cast<double>(sent) / took, failed, o.sources, offers,
      static_cast<double>(offers) / took);
  return 0;
}

} // namespace fwrescue::adversary
