// An impostor in the fleet view: answers every fleet query with a validly signed answer that
// claims another node's id under the impostor's own key (docs/fleet.md, "Identity").

#include <poll.h>

#include "common/error.hpp"
#include "common/hex.hpp"

#include "tests/adversarial/hostile_peer.hpp"

namespace fwrescue::adversary {

int fleet_impostor(const peer& p, const peer_options& o) {
  if (o.role != "peer" && o.role != "console")
    fatal("--role must be peer or console");
  auto role = o.role == "console" ? node_role::console : node_role::peer;
  auto group = group_socket(p.group.sin_addr, p.interface, ntohs(p.group.sin_port));
  auto sender = udp_socket(p.source, p.interface);
  say("fleet-impostor: answering fleet queries on {} as {} ({}) with key {}", to_string(p.group),
      p.id, o.role, to_hex(p.key->public_part().id()));
  int answered = 0;
  while (p.running()) {
    pollfd fd{group.get(), POLLIN, 0};
    if (::poll(&fd, 1, std::min(p.remaining_ms(), 500)) <= 0)
      continue;
    while (auto d = receive_datagram(group.get(), 0)) {
      auto m = decode(d->bytes);
      auto* q = m ? std::get_if<fleet_query>(&*m) : nullptr;
      if (!q || (!o.requester.empty() && q->fields.asker != o.requester))
        continue;
      fleet_answer_fields f;
      f.query_id = q->fields.query_id;
      f.challenge = q->fields.challenge;
      f.node = p.id;
      f.node_key = p.key->public_part();
      f.role = role;
      f.links = {{"lan", true}};
      f.targets = {{"bios", "bios", "6.6.6-impostor", 99, digest{}, "idle", "", 0, 0}};
      auto a = make_fleet_answer(f, *p.key, encode(*q).size());
      if (!a)
        fatal(describe(a.error()));
      if (send_datagram(sender.get(), d->from, encode(*a)))
        ++answered;
      say("query {:016x} from {} ({}): answered as {}", q->fields.query_id, q->fields.asker,
          to_string(d->from), p.id);
    }
  }
  say("fleet-impostor: {} answer(s) sent", answered);
  return 0;
}

} // namespace fwrescue::adversary
