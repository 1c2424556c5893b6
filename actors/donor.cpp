#include "actors/donor.hpp"

#include <algorithm>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/unique_fd.hpp"
#include "image/image_check.hpp"
#include "image/revocation.hpp"
#include "image/signing.hpp"

namespace fwrescue {

namespace {

using self_ptr = caf::stateful_actor<donor_state>*;
using serve_atom = caf::atom_constant<caf::atom("serve")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;

/// How long an offer can be taken up.
constexpr auto offer_lifetime = std::chrono::seconds(60);

std::vector<std::shared_ptr<const served_image>> servable(const donor_state& st) {
  auto out = st.catalog;
  if (st.own)
    out.insert(out.begin(), st.own);
  return out;
}

/// The bytes of blocks [first, first + count) of `img`.
uint64_t blocks_length(const served_image& img, uint64_t first, uint64_t count) {
  const auto& m = img.manifest.fields;
  auto last = first + count - 1;
  return (last - first) * m.block_size + m.block_length(last);
}

/// Reads blocks starting at `first` of the served image into `out` (as long as they are), in
/// one read.
caf::error read_blocks(const node_context& ctx, const served_image& img, uint64_t first,
                       std::span<uint8_t> out) {
  const auto& m = img.manifest.fields;
  auto count = (out.size() + m.block_size - 1) / m.block_size;
  auto offset = first * m.block_size;
  if (img.path.empty())
    return ctx.chip->read(offset, out);
  unique_fd fd{::open(img.path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.get() < 0)
    return make_error(errc::io_failure, fmt::format("image {}: cannot open", img.path));
  if (auto io = pread_all(fd.get(), offset, out); io.error)
    return make_error(errc::io_failure, fmt::format("image {}: cannot read blocks {}..{}: {}",
                                                    img.path, first, first + count, describe(io)));
  return caf::none;
}

/// Keeps an offer for an accept to take up, within limits.offers_remembered: expired offers go
/// first, then the one closest to expiring.
void remember_offer(self_ptr self, uint64_t request_id, const nonce& challenge) {
  auto& st = self->state;
  auto now = self->clock().now();
  std::erase_if(st.offers, [now](const auto& o) { return o.second.expires < now; });
  while (!st.offers.empty() && st.offers.size() >= st.ctx->config.limits.offers_remembered) {
    auto oldest = std::min_element(st.offers.begin(), st.offers.end(), [](auto& a, auto& b) {
      return a.second.expires < b.second.expires;
    });
    st.offers.erase(oldest);
  }
  st.offers[request_id] = {challenge, now + offer_lifetime};
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
    if (m.platform != req.platform || m.svn < req.min_svn)
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
    f.role = ctx.config.role;
    f.active_uploads = st.active_uploads();
    f.max_uploads = ctx.config.donor.max_uploads;
    f.session_address = ctx.link->session_address();
    f.manifest_body = img->manifest.body;
    f.manifest_sig = img->manifest.sig;
    f.revocation_serial = serial;
    ctx.link->send_datagram(from, encode(make_offer(std::move(f), *ctx.node_key)));
    remember_offer(self, req.request_id, req.challenge);
    ctx.log->info("donor", "offered {} {} svn {} to {} ({})", img->label, m.version, m.svn,
                  req.requester, from);
  }
}

void send_frame(self_ptr self, session_id id, const wire_message& m) {
  self->state.ctx->link->send_frame(id, encode(m));
}

/// Ends an upload: says why to the peer (best effort) and closes the session.
void end_upload(self_ptr self, session_id id, const std::string& reason) {
  auto& st = self->state;
  auto i = st.uploads.find(id);
  if (i == st.uploads.end())
    return; // Ended already; what the peer still sends is ignored until the close lands.
  st.ctx->log->warn("donor", "ending the session with {}: {}", i->second.peer, reason);
  // The slot is free from now on, not only once the transport has closed the session.
  st.uploads.erase(i);
  send_frame(self, id, abort_transfer{reason});
  st.ctx->link->close_session(id);
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
  std::shared_ptr<const served_image> chosen;
  for (const auto& img : servable(st))
    if (img->manifest.fields.merkle_root == a.fields.merkle_root)
      chosen = img;
  if (!chosen)
    return refuse("the accepted image is no longer available");
  if (st.active_uploads() >= ctx.config.donor.max_uploads) {
    ctx.log->info("donor", "busy: {} uploads in progress, {} must wait", st.active_uploads(),
                  a.fields.recipient);
    return refuse_accept(self, id, a, busy{a.fields.request_id, 1000}, "busy");
  }
  // An offer is taken up once: the same accept on another session finds nothing to take.
  st.offers.erase(o);
  up.image = chosen;
  up.confirmed = true;
  ctx.log->info("donor", "serving {} {} to {} ({} of {} upload slots in use)", chosen->label,
                chosen->manifest.fields.version, a.fields.recipient, st.active_uploads(),
                ctx.config.donor.max_uploads);
  send_frame(self, id, confirm{a.fields.request_id});
  const auto& digests = chosen->manifest.block_digests;
  for (size_t first = 0; first < digests.size(); first += wire_limits::max_leaves_per_message) {
    auto n = std::min(wire_limits::max_leaves_per_message, digests.size() - first);
    send_frame(self, id, leaves{first, {digests.begin() + first, digests.begin() + first + n}});
  }
}

/// Several blocks per frame: fewer, larger frames cost both sides less.
uint64_t blocks_per_frame(const manifest& m) {
  return std::max<uint64_t>(1, block_data_bytes / m.block_size);
}

/// Sends the blocks the upload has been asked for, a frame at a time, while the session's send
/// queue is below half its bound and the upload rate cap allows; otherwise waits for the link
/// to drain (session_drained_event) or for the cap's timer.
void pump(self_ptr self, session_id id) {
  auto& st = self->state;
  auto i = st.uploads.find(id);
  if (i == st.uploads.end() || !i->second.image)
    return;
  auto& up = i->second;
  const auto& ctx = *st.ctx;
  const auto& img = *up.image;
  auto per_frame = blocks_per_frame(img.manifest.fields);
  auto low_water = size_t{ctx.config.limits.queued_kib} * 1024 / 2;
  auto rate = ctx.config.donor.upload_rate_kbps;
  up.awaiting_drain = false;
  while (!up.pending.empty()) {
    if (ctx.link->queued(id) >= low_water) {
      up.awaiting_drain = true;
      return;
    }
    auto now = self->clock().now();
    if (rate != 0 && st.next_free > now) {
      // One timer per upload at most, however many frames wait.
      if (!up.pump_timer) {
        up.pump_timer = true;
        self->delayed_send(self, st.next_free - now, serve_atom::value, id);
      }
      return;
    }
    auto& r = up.pending.front();
    auto k = static_cast<uint32_t>(std::min<uint64_t>(per_frame, r.count));
    auto length = blocks_length(img, r.first, k);
    // The blocks are read straight into the frame.
    auto frame = encode_block_data(
      r.first, length, [&](std::span<uint8_t> out) { return read_blocks(ctx, img, r.first, out); });
    if (!frame) {
      ctx.log->error("donor", "{}", describe(frame.error()));
      return end_upload(self, id, "donor cannot read its image");
    }
    ctx.link->send_frame(id, std::move(*frame));
    up.sent += length;
    up.pending_blocks -= k;
    r.first += k;
    r.count -= k;
    if (r.count == 0)
      up.pending.pop_front();
    if (rate != 0)
      st.next_free =
        std::max(now, st.next_free) + std::chrono::microseconds(uint64_t{length} * 8 * 1000 / rate);
  }
}

void on_block_request(self_ptr self, session_id id, const block_request& r) {
  auto& st = self->state;
  auto i = st.uploads.find(id);
  if (i == st.uploads.end() || !i->second.confirmed)
    return end_upload(self, id, "block request before a confirmed accept");
  auto& up = i->second;
  auto n = up.image->manifest.fields.block_count();
  if (r.first >= n || r.count > n - r.first)
    return end_upload(self, id,
                      fmt::format("blocks {}..{} do not exist", r.first, r.first + r.count));
  auto limit = st.ctx->config.limits.requested_blocks;
  if (up.pending_blocks + r.count > limit)
    return end_upload(self, id,
                      fmt::format("asked for {} blocks not yet sent, more than the limit of {}",
                                  up.pending_blocks + r.count, limit));
  // An honest recipient asks for each block once, and again only after a loss: twice the image
  // is far more than it ever needs, and bounds how long a session can keep a slot.
  const auto& m = up.image->manifest.fields;
  if (up.sent + uint64_t{r.count} * m.block_size > 2 * m.image_size + block_data_bytes)
    return end_upload(self, id, "asked for more than twice the image");
  up.pending.push_back(r);
  up.pending_blocks += r.count;
  if (!up.awaiting_drain && !up.pump_timer)
    pump(self, id);
}

/// The lowest rate, in bytes per second, an upload that has work must move: the configured
/// minimum, but at most a quarter of the link's rate and of the upload rate cap per slot.
uint64_t min_rate_bytes(const node_context& ctx) {
  uint64_t bits = uint64_t{ctx.config.limits.min_rate_kbps} * 1000;
  if (ctx.link)
    if (auto link = ctx.link->properties().nominal_rate_bps; link != 0)
      bits = std::min(bits, link / 4);
  if (auto cap = uint64_t{ctx.config.donor.upload_rate_kbps} * 1000; cap != 0)
    bits = std::min(bits, cap / 4 / std::max<uint64_t>(1, ctx.config.donor.max_uploads));
  return bits / 8;
}

/// Every limits.idle_ms an upload must have moved something: a session that never confirmed,
/// a confirmed one that asks for nothing, and one whose peer reads below the minimum rate are
/// ended. The transport's own deadlines stop sessions that send nothing at all.
void watch(self_ptr self, session_id id) {
  auto& st = self->state;
  auto i = st.uploads.find(id);
  if (i == st.uploads.end())
    return;
  auto& up = i->second;
  const auto& limits = st.ctx->config.limits;
  auto window = std::chrono::milliseconds(limits.idle_ms);
  auto moved = up.sent - up.sent_at_check;
  up.sent_at_check = up.sent;
  if (!up.confirmed)
    return end_upload(self, id, fmt::format("no accept confirmed within {} ms", limits.idle_ms));
  if (up.pending.empty() && moved == 0)
    return end_upload(
      self, id, fmt::format("asked for no block for {} ms; the slot is freed", limits.idle_ms));
  auto floor = min_rate_bytes(*st.ctx) * static_cast<uint64_t>(window.count()) / 1000;
  // An upload held back by this donor's own rate cap is not the peer's doing.
  if (!up.pending.empty() && !up.pump_timer && moved < floor)
    return end_upload(self, id,
                      fmt::format("took {} bytes in {} ms, below the minimum of {} kbit/s", moved,
                                  limits.idle_ms, min_rate_bytes(*st.ctx) * 8 / 1000));
  self->delayed_send(self, window, watch_atom::value, id);
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
    ctx.log->info("donor", "catalog image {}: {}:{} {} svn {}", entry.image,
                  m->fields.platform.vendor, m->fields.platform.board, m->fields.version,
                  m->fields.svn);
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
      if (!s.servable || !st.ctx->config.donor.serve_installed) {
        st.own.reset();
        return;
      }
      auto installed = st.ctx->store->installed_manifest();
      if (installed && *installed && !(*installed)->block_digests.empty())
        st.own = std::make_shared<const served_image>(served_image{"own flash", **installed, {}});
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
    [=](serve_atom, session_id id) {
      auto i = self->state.uploads.find(id);
      if (i == self->state.uploads.end())
        return;
      i->second.pump_timer = false;
      pump(self, id);
    },
    [=](watch_atom, session_id id) { watch(self, id); },
    [=](context_update& u) {
      // The catalog may have changed with the configuration.
      self->state.ctx = std::move(u.ctx);
      self->state.catalog = load_catalog(*self->state.ctx);
    },
  };
}

} // namespace fwrescue
