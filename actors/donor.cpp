#include "actors/donor.hpp"

#include <algorithm>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/unique_fd.hpp"
#include "image/image_check.hpp"
#include "image/signing.hpp"

namespace fwrescue {

namespace {

using self_ptr = caf::stateful_actor<donor_state>*;
using serve_atom = caf::atom_constant<caf::atom("serve")>;

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

void answer_request(self_ptr self, const std::string& from, const image_request& req) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  if (req.requester == ctx.config.id || !ctx.config.donor.enabled)
    return;
  for (const auto& img : servable(st)) {
    const auto& m = img->manifest.fields;
    if (m.platform != req.platform || m.svn < req.min_svn)
      continue;
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
    ctx.link->send_datagram(from, encode(make_offer(std::move(f), *ctx.node_key)));
    st.offers[req.request_id] = {req.challenge, self->clock().now() + offer_lifetime};
    ctx.log->info("donor", "offered {} {} svn {} to {} ({})", img->label, m.version, m.svn,
                  req.requester, from);
  }
}

void send_frame(self_ptr self, session_id id, const wire_message& m) {
  self->state.ctx->link->send_frame(id, encode(m));
}

void on_accept(self_ptr self, session_id id, const accept& a) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  auto& up = st.uploads[id];
  auto refuse = [&](const std::string& reason) {
    ctx.log->warn("donor", "declined {} from {}: {}", a.fields.recipient, up.peer, reason);
    send_frame(self, id, decline{a.fields.request_id, reason});
  };
  if (!verify_accept(a))
    return refuse("accept signature does not verify");
  if (a.fields.donor_key != ctx.node_key->public_part())
    return refuse("the accept is addressed to another donor");
  auto o = st.offers.find(a.fields.request_id);
  if (o == st.offers.end() || o->second.challenge != a.fields.challenge
      || o->second.expires < self->clock().now())
    return refuse("no such offer (stale or replayed)");
  std::shared_ptr<const served_image> chosen;
  for (const auto& img : servable(st))
    if (img->manifest.fields.merkle_root == a.fields.merkle_root)
      chosen = img;
  if (!chosen)
    return refuse("the accepted image is no longer available");
  if (st.active_uploads() >= ctx.config.donor.max_uploads) {
    ctx.log->info("donor", "busy: {} uploads in progress, {} must wait", st.active_uploads(),
                  a.fields.recipient);
    return send_frame(self, id, busy{a.fields.request_id, 1000});
  }
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

void serve_blocks(self_ptr self, session_id id, uint64_t first, uint32_t count) {
  auto& st = self->state;
  auto i = st.uploads.find(id);
  if (i == st.uploads.end() || !i->second.image)
    return;
  const auto& img = *i->second.image;
  auto per_frame = blocks_per_frame(img.manifest.fields);
  for (uint64_t b = first; b < first + count; b += per_frame) {
    auto k = std::min<uint64_t>(per_frame, first + count - b);
    // The blocks are read straight into the frame.
    auto frame = encode_block_data(b, blocks_length(img, b, k), [&](std::span<uint8_t> out) {
      return read_blocks(*st.ctx, img, b, out);
    });
    if (!frame) {
      st.ctx->log->error("donor", "{}", describe(frame.error()));
      send_frame(self, id, abort_transfer{"donor cannot read its image"});
      st.ctx->link->close_session(id);
      return;
    }
    st.ctx->link->send_frame(id, std::move(*frame));
  }
}

void on_block_request(self_ptr self, session_id id, const block_request& r) {
  auto& st = self->state;
  auto i = st.uploads.find(id);
  if (i == st.uploads.end() || !i->second.confirmed) {
    send_frame(self, id, abort_transfer{"block request before a confirmed accept"});
    st.ctx->link->close_session(id);
    return;
  }
  auto n = i->second.image->manifest.fields.block_count();
  if (r.first >= n || r.count > n - r.first) {
    send_frame(
      self, id,
      abort_transfer{fmt::format("blocks {}..{} do not exist", r.first, r.first + r.count)});
    st.ctx->link->close_session(id);
    return;
  }
  auto rate = st.ctx->config.donor.upload_rate_kbps;
  if (rate == 0)
    return serve_blocks(self, id, r.first, r.count);
  // Pace to the cap, a frame at a time: each is sent when the link has drained the ones before
  // it, so a large request does not leave in one burst. Time is the actor clock's, the one
  // delayed_send counts in.
  const auto& m = i->second.image->manifest.fields;
  auto per_frame = blocks_per_frame(m);
  auto now = self->clock().now();
  for (uint64_t b = r.first; b < r.first + r.count; b += per_frame) {
    auto k = static_cast<uint32_t>(std::min<uint64_t>(per_frame, r.first + r.count - b));
    auto bits = uint64_t{k} * m.block_size * 8;
    auto due = std::max(now, st.next_free);
    st.next_free = due + std::chrono::microseconds(bits * 1000 / rate);
    self->delayed_send(self, due - now, serve_atom::value, id, b, k);
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
    [=](session_opened_event& ev) { self->state.uploads[ev.id].peer = ev.peer; },
    [=](session_message& sm) {
      if (auto* a = std::get_if<accept>(&sm.msg))
        on_accept(self, sm.id, *a);
      else if (auto* r = std::get_if<block_request>(&sm.msg))
        on_block_request(self, sm.id, *r);
      else if (std::holds_alternative<done>(sm.msg)
               || std::holds_alternative<abort_transfer>(sm.msg))
        self->state.ctx->link->close_session(sm.id);
    },
    [=](session_closed_event& ev) {
      auto& st = self->state;
      auto i = st.uploads.find(ev.id);
      if (i == st.uploads.end())
        return;
      if (i->second.confirmed)
        st.ctx->log->info("donor", "upload to {} ended: {}", i->second.peer, ev.reason);
      st.uploads.erase(i);
    },
    [=](serve_atom, session_id id, uint64_t first, uint32_t count) {
      serve_blocks(self, id, first, count);
    },
    [=](context_update& u) {
      // The catalog may have changed with the configuration.
      self->state.ctx = std::move(u.ctx);
      self->state.catalog = load_catalog(*self->state.ctx);
    },
  };
}

} // namespace fwrescue
