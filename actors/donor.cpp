#include "actors/donor.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "actors/donor_steps.hpp"
#include "common/error.hpp"
#include "common/file_io.hpp"
#include "image/image_check.hpp"
#include "image/revocation.hpp"
#include "image/signing.hpp"
#include "transports/link_timing.hpp"
#include "transports/link_set.hpp"

namespace fwrescue {

namespace {

using namespace donor_steps;

/// How long an offer can be taken up.
constexpr auto offer_lifetime = std::chrono::seconds(60);

/// Every image the node offers: its own flash, the catalog, and the images its targets are
/// pulling, as far as verified, unless a whole copy of one is offered already.
std::vector<std::shared_ptr<const served_image>> servable(const donor_state& st) {
  std::vector<std::shared_ptr<const served_image>> out;
  for (const auto& [index, img] : st.own)
    out.push_back(img);
  out.insert(out.end(), st.catalog.begin(), st.catalog.end());
  auto partials = partials_to_offer(st, out);
  out.insert(out.end(), partials.begin(), partials.end());
  return out;
}

/// Keeps an offer for an accept to take up, within limits.offers_remembered: expired offers go
/// first, then the one closest to expiring.
void remember_offer(self_ptr self, const image_request& req) {
  auto& st = self->state;
  auto now = self->clock().now();
  std::erase_if(st.offers, [now](const auto& o) { return o.second.expires < now; });
  while (!st.offers.empty() && st.offers.size() >= st.ctx->config.limits.offers_remembered) {
    auto oldest = std::min_element(st.offers.begin(), st.offers.end(), [](auto& a, auto& b) {
      return a.second.expires < b.second.expires;
    });
    st.offers.erase(oldest);
  }
  st.offers[req.request_id] = {req.challenge, now + offer_lifetime, req.component};
}

/// Why `img` must not be served under the revocation list `revoked`, or an empty string.
std::string revoked_image(const node_context& ctx, const served_image& img,
                          const std::optional<signed_revocations>& revoked) {
  if (!revoked)
    return {};
  auto signer = check_signature(img.manifest, ctx.trusted_keys);
  if (!signer)
    return "manifest " + describe(signer.error());
  return revocation_problem(revoked->fields, img.manifest, *signer);
}

void answer_request(self_ptr self, const std::string& from, const image_request& req) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  if (req.requester == ctx.config.id || !ctx.config.donor.enabled)
    return;
  auto stored = ctx.store->revocations();
  if (!stored) {
    ctx.log->error("donor", "not answering: the stored revocation list cannot be read: {}",
                   describe(stored.error()));
    return;
  }
  const auto& revoked = *stored;
  uint64_t serial = revoked ? revoked->fields.serial : 0;
  // A recipient that knows an older list hears of the newer one before the offers, so that it
  // judges them by it.
  if (revoked && req.revocation_serial < serial)
    ctx.link->send_datagram(from, encode(revocation_notice{*revoked}));
  for (const auto& img : servable(st)) {
    const auto& m = img->manifest.fields;
    // An image for another firmware target is never offered: written to this recipient's flash
    // it would be the wrong firmware, however well signed.
    if (m.component != req.component || m.platform != req.platform || m.svn < req.min_svn)
      continue;
    // The recipient's host failed to boot it: the recipient would refuse it anyway.
    if (std::find(req.exclude_roots.begin(), req.exclude_roots.end(), m.merkle_root)
        != req.exclude_roots.end())
      continue;
    if (auto why = revoked_image(ctx, *img, revoked); !why.empty()) {
      ctx.log->warn("donor", "not offering {}: {}", img->label, why);
      continue;
    }
    offer_fields f;
    f.request_id = req.request_id;
    f.challenge = req.challenge;
    f.donor = ctx.config.id;
    f.donor_key = ctx.node_key->public_part();
    // A node serving what it is itself still pulling is a peer, whatever its role: a recipient
    // preferring consoles must not count on one that holds part of the image.
    f.role = img->partial ? node_role::peer : ctx.config.role;
    f.active_uploads = st.active_uploads();
    f.max_uploads = ctx.config.donor.max_uploads;
    // The address on the link the request came in on: a recipient on the serial bus opens its
    // session there.
    f.session_address = ctx.link->session_address_for(from);
    f.manifest_body = img->manifest.body;
    f.manifest_sig = img->manifest.sig;
    f.revocation_serial = serial;
    ctx.link->send_datagram(from, signed_offer(ctx, from, std::move(f), *img));
    remember_offer(self, req);
    ctx.log->info("donor", "offered {} {} svn {} to {} ({})", img->label, m.version, m.svn,
                  req.requester, from);
  }
}

/// Answers the accept with a decline (or busy) and closes the session: an accept is the
/// session's one chance, so a peer cannot keep a session open by sending bad ones.
void refuse_accept(self_ptr self, session_id id, const accept& a, const wire_message& answer,
                   const std::string& reason) {
  auto& st = self->state;
  auto i = st.uploads.find(id);
  auto peer = i == st.uploads.end() ? std::string{"?"} : i->second.peer;
  st.ctx->log->warn("donor", "declined {} from {}: {}", a.fields.recipient, peer, reason);
  send_frame(self, id, answer);
  st.ctx->link->close_session(id);
}

/// The link part of a typed peer address ("lan" of "lan:192.0.2.7:40122"; empty without one).
std::string link_of(const std::string& peer) {
  auto parts = link_set::split(peer);
  return parts ? parts->first : std::string{};
}

void on_accept(self_ptr self, session_id id, const accept& a) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  auto u = st.uploads.find(id);
  if (u == st.uploads.end())
    return; // The session was ended; its close is on its way.
  auto& up = u->second;
  auto refuse = [&](const std::string& reason) {
    refuse_accept(self, id, a, decline{a.fields.request_id, reason}, reason);
  };
  if (up.confirmed)
    return end_upload(self, id, "a second accept on a confirmed session");
  if (!verify_accept(a))
    return refuse("accept signature does not verify");
  if (a.fields.donor_key != ctx.node_key->public_part())
    return refuse("the accept is addressed to another donor");
  if (auto revoked = ctx.store->revocations(); !revoked)
    return refuse("the stored revocation list cannot be read");
  else if (*revoked && revokes((*revoked)->fields, a.fields.recipient_key))
    return refuse(fmt::format("the recipient's node key is revoked (revocation list {})",
                              (*revoked)->fields.serial));
  auto o = st.offers.find(a.fields.request_id);
  if (o == st.offers.end() || o->second.challenge != a.fields.challenge
      || o->second.expires < self->clock().now())
    return refuse("no such offer (stale, replayed or already taken up)");
  auto& offer = o->second;
  auto link = link_of(up.peer);
  if (offer.taken) {
    if (offer.recipient != a.fields.recipient_key || offer.link == link)
      return refuse("no such offer (stale, replayed or already taken up)");
    if (st.uploads.count(offer.session) != 0)
      end_upload(self, offer.session,
                 fmt::format("{} took the offer up again over {}", a.fields.recipient, link));
  }
  std::shared_ptr<const served_image> chosen;
  for (const auto& img : servable(st))
    if (img->manifest.fields.merkle_root == a.fields.merkle_root)
      chosen = img;
  if (!chosen)
    return refuse("the accepted image is no longer available");
  if (chosen->manifest.fields.component != offer.component)
    return refuse(fmt::format("the accepted image is for component {}, the request asked for {}",
                              chosen->manifest.fields.component, offer.component));
  if (st.active_uploads() >= ctx.config.donor.max_uploads && !preempt_for(self, a, *chosen)) {
    ctx.log->info("donor", "busy: {} uploads in progress, {} must wait", st.active_uploads(),
                  a.fields.recipient);
    return refuse_accept(self, id, a, busy{a.fields.request_id, 1000}, "busy");
  }
  // One session at a time holds the offer: the same accept on another session of the same link
  // finds it taken.
  offer.taken = true;
  offer.recipient = a.fields.recipient_key;
  offer.session = id;
  offer.link = link;
  up.image = chosen;
  up.confirmed = true;
  up.compress = a.fields.accepts_zstd;
  up.leaves_omitted = a.fields.no_leaves;
  up.request_id = a.fields.request_id;
  up.confirmed_at = self->clock().now();
  up.blocks_held = a.fields.blocks_held;
  ctx.log->info("donor", "serving {} {} to {} ({} of {} upload slots in use)", chosen->label,
                chosen->manifest.fields.version, a.fields.recipient, st.active_uploads(),
                ctx.config.donor.max_uploads);
  send_frame(self, id, confirm{a.fields.request_id, up.leaves_omitted});
  if (chosen->partial)
    start_partial_upload(self, id);
  // A recipient that holds the digests, or walks the tree for the ones it lacks, asks for none.
  if (up.leaves_omitted)
    return;
  const auto& digests = chosen->manifest.block_digests;
  auto per_frame =
    digests_per_frame(wire_limits::max_leaves_per_message, ctx.link->session_properties(id));
  for (size_t first = 0; first < digests.size(); first += per_frame) {
    auto n = std::min<size_t>(per_frame, digests.size() - first);
    send_frame(self, id, leaves{first, {digests.begin() + first, digests.begin() + first + n}});
    charge(self, n * sizeof(digest));
  }
}

} // namespace

uint32_t donor_state::active_uploads() const {
  uint32_t n = 0;
  for (const auto& [id, up] : uploads)
    n += up.confirmed ? 1 : 0;
  return n;
}

std::vector<std::shared_ptr<const served_image>> load_catalog(const node_context& ctx) {
  std::vector<std::shared_ptr<const served_image>> out;
  for (const auto& entry : ctx.config.donor.images) {
    auto bytes = read_file(entry.manifest, manifest_limits::max_file_bytes + 8, "manifest");
    auto m = bytes ? decode_manifest_file(*bytes) : caf::expected<signed_manifest>{bytes.error()};
    if (!m) {
      ctx.log->error("donor", "catalog image {} not served: {}", entry.image, describe(m.error()));
      continue;
    }
    auto verdict = verify_image_file(*m, ctx.trusted_keys, entry.image);
    if (!verdict || verdict->result != image_verdict::outcome::ok) {
      ctx.log->error("donor", "catalog image {} not served: {}", entry.image,
                     verdict ? verdict->detail : describe(verdict.error()));
      continue;
    }
    if (m->block_digests.empty()) {
      ctx.log->error("donor", "catalog image {} not served: its manifest has no block digests",
                     entry.image);
      continue;
    }
    ctx.log->info("donor", "catalog image {}: {}:{} {} {} svn {}", entry.image,
                  m->fields.platform.vendor, m->fields.platform.board, m->fields.component,
                  m->fields.version, m->fields.svn);
    out.push_back(std::make_shared<const served_image>(
      served_image{"catalog image " + entry.image, std::move(*m), entry.image}));
  }
  return out;
}

caf::behavior donor(caf::stateful_actor<donor_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  self->state.catalog = load_catalog(*ctx);
  return {
    [=](start_atom) {},
    [=](datagram_message& dm) {
      if (auto* req = std::get_if<image_request>(&dm.msg))
        answer_request(self, dm.from, *req);
    },
    [=](own_image_state s) {
      auto& st = self->state;
      // The target whose flash it is; a report without one is the first target's.
      auto target = s.target ? s.target : st.ctx;
      auto index = target->target_index;
      if (!s.servable || !st.ctx->config.donor.serve_installed) {
        st.own.erase(index);
        // Blocks of a flash about to be rewritten (or found bad) are not served: uploads of that
        // flash end now, and their recipients go on with another donor.
        std::vector<session_id> ending;
        for (const auto& [id, up] : st.uploads)
          if (up.image && !up.image->partial && up.image->path.empty()
              && up.image->chip == target->chip)
            ending.push_back(id);
        for (auto id : ending)
          end_upload(self, id, "the donor's flash is being rewritten or does not verify");
        return;
      }
      auto installed = target->store->installed_manifest();
      if (!installed || !*installed || (*installed)->block_digests.empty())
        return;
      // The flash holds its target's component; a manifest naming another does not describe it.
      const auto& component = target->config.flash.component;
      if ((*installed)->fields.component != component) {
        st.own.erase(index);
        st.ctx->log->warn("donor",
                          "own flash of {} not served: the installed manifest is for component "
                          "{}, this flash holds {}",
                          target->target, (*installed)->fields.component, component);
        return;
      }
      st.own[index] = std::make_shared<const served_image>(
        served_image{index == 0 ? std::string{"own flash"} : "own flash of " + target->target,
                     **installed, {}, target->chip});
      // The recovered image is served whole now: the blocks handed over by its transfer are let
      // go (uploads of them run to their end), and with them the memory they were read from.
      auto p = st.partials.find(index);
      if (p != st.partials.end()
          && p->second->manifest.fields.merkle_root == (*installed)->fields.merkle_root)
        st.partials.erase(p);
    },
    [=](session_opened_event& ev) {
      auto& up = self->state.uploads[ev.id];
      up.peer = ev.peer;
      up.opened = self->clock().now();
      self->delayed_send(self, std::chrono::milliseconds(self->state.ctx->config.limits.idle_ms),
                         watch_atom::value, ev.id);
    },
    [=](session_message& sm) {
      if (auto* a = std::get_if<accept>(&sm.msg))
        on_accept(self, sm.id, *a);
      else if (auto* r = std::get_if<block_request>(&sm.msg))
        on_block_request(self, sm.id, *r);
      else if (auto* n = std::get_if<node_request>(&sm.msg))
        on_node_request(self, sm.id, *n);
      else if (std::holds_alternative<done>(sm.msg)
               || std::holds_alternative<abort_transfer>(sm.msg))
        self->state.ctx->link->close_session(sm.id);
      else
        end_upload(self, sm.id, fmt::format("a recipient does not send {}", kind_name(sm.msg)));
    },
    [=](session_drained_event& ev) { pump(self, ev.id); },
    [=](session_closed_event& ev) {
      auto& st = self->state;
      auto i = st.uploads.find(ev.id);
      if (i == st.uploads.end())
        return;
      if (i->second.confirmed)
        st.ctx->log->info("donor", "upload to {} ended: {}", i->second.peer, ev.reason);
      st.uploads.erase(i);
    },
    [=](serve_atom) { next_turn(self); },
    [=](watch_atom, session_id id) { watch(self, id); },
    [=](partial_update& u) { on_partial_update(self, u); },
    [=](holdings_atom) { holdings_tick(self); },
    [=](context_update& u) {
      // The catalog may have changed with the configuration.
      self->state.ctx = std::move(u.ctx);
      self->state.catalog = load_catalog(*self->state.ctx);
    },
  };
}

} // namespace fwrescue
