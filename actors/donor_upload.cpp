#include <algorithm>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "actors/donor_steps.hpp"
#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/unique_fd.hpp"
#include "messages/block_codec.hpp"

namespace fwrescue::donor_steps {

namespace {

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
  // Only the blocks verified so far, and nothing once the image being pulled has changed.
  if (img.partial)
    return img.partial->read(first, count, out);
  if (img.path.empty())
    return (img.chip ? img.chip : ctx.chip)->read(offset, out);
  unique_fd fd{::open(img.path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.get() < 0)
    return make_error(errc::io_failure, fmt::format("image {}: cannot open", img.path));
  if (auto io = pread_all(fd.get(), offset, out); io.error)
    return make_error(errc::io_failure, fmt::format("image {}: cannot read blocks {}..{}: {}",
                                                    img.path, first, first + count, describe(io)));
  return caf::none;
}

/// A block_data frame of the `length` bytes of blocks from `first`: compressed with zstd when
/// the recipient took it and that is smaller, else the blocks read straight into the frame.
caf::expected<std::vector<uint8_t>> block_frame(const node_context& ctx, const served_image& img,
                                                bool compress, uint64_t first, size_t length) {
  if (!compress)
    return encode_block_data(
      first, length, [&](std::span<uint8_t> out) { return read_blocks(ctx, img, first, out); });
  block_data run{first, std::vector<uint8_t>(length)};
  if (auto err = read_blocks(ctx, img, first, run.bytes))
    return err;
  if (auto smaller = compress_run(run.bytes)) {
    run.bytes = std::move(*smaller);
    run.encoding = block_encoding::zstd;
  }
  return encode(run);
}

/// Nodes in all levels of `t`: what one session may ask for in all.
uint64_t tree_nodes(const merkle_tree& t) {
  uint64_t n = 0;
  for (size_t k = 0; k < t.height(); ++k)
    n += t.level(k).size();
  return n;
}

/// Several blocks per frame: fewer, larger frames cost both sides less; a frame stays within
/// what the session's link carries (less 1 KiB for the envelope), and holds one block at least.
uint64_t blocks_per_frame(const manifest& m, const link_properties& link) {
  uint64_t bytes = block_data_bytes;
  if (link.max_frame > 2048)
    bytes = std::min<uint64_t>(bytes, link.max_frame - 1024);
  return std::max<uint64_t>(1, bytes / m.block_size);
}

/// Under an upload rate cap, a frame holds at most a tenth of a second of the cap (and one block
/// at least): each frame goes to the link whole, so the largest frame is the most the cap can
/// be exceeded by over any window, and a window of a second or more stays within 10 %.
uint64_t capped_blocks_per_frame(const manifest& m, uint32_t rate_kbps, uint64_t per_frame) {
  if (rate_kbps == 0)
    return per_frame;
  uint64_t tenth = uint64_t{rate_kbps} * 1000 / 8 / 10;
  return std::clamp<uint64_t>(tenth / m.block_size, 1, per_frame);
}

/// The lowest rate, in bytes per second, an upload that has work must move: the configured
/// minimum, but at most a quarter of the link's rate and of the upload rate cap per slot.
uint64_t min_rate_bytes(const node_context& ctx, session_id id) {
  uint64_t bits = uint64_t{ctx.config.limits.min_rate_kbps} * 1000;
  if (ctx.link)
    if (auto link = ctx.link->session_properties(id).nominal_rate_bps; link != 0)
      bits = std::min(bits, link / 4);
  if (auto cap = uint64_t{ctx.config.donor.upload_rate_kbps} * 1000; cap != 0)
    bits = std::min(bits, cap / 4 / std::max<uint64_t>(1, ctx.config.donor.max_uploads));
  return bits / 8;
}

/// Queues the upload for a turn under the rate cap, once however many frames it has waiting,
/// and starts the cap's one timer.
void wait_for_cap(self_ptr self, session_id id) {
  auto& st = self->state;
  auto& up = st.uploads.at(id);
  if (!up.awaiting_cap) {
    up.awaiting_cap = true;
    st.cap_turns.push_back(id);
  }
  if (!st.cap_timer) {
    st.cap_timer = true;
    auto wait = std::max(st.next_free - self->clock().now(), caf::timespan::zero());
    self->delayed_send(self, wait, serve_atom::value);
  }
}

} // namespace

void next_turn(self_ptr self) {
  auto& st = self->state;
  st.cap_timer = false;
  // Turns go round: an upload that sent its frame queues again behind the others, so uploads
  // share the cap instead of the first to arm its timer taking it all.
  while (!st.cap_turns.empty() && st.next_free <= self->clock().now()) {
    auto id = st.cap_turns.front();
    st.cap_turns.pop_front();
    auto i = st.uploads.find(id);
    if (i == st.uploads.end())
      continue;
    i->second.awaiting_cap = false;
    pump(self, id);
  }
  if (!st.cap_turns.empty() && !st.cap_timer) {
    st.cap_timer = true;
    auto wait = std::max(st.next_free - self->clock().now(), caf::timespan::zero());
    self->delayed_send(self, wait, serve_atom::value);
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
  auto rate = ctx.config.donor.upload_rate_kbps;
  auto per_frame = capped_blocks_per_frame(
    img.manifest.fields, rate,
    blocks_per_frame(img.manifest.fields, ctx.link->session_properties(id)));
  auto low_water = size_t{ctx.config.limits.queued_kib} * 1024 / 2;
  up.awaiting_drain = false;
  while (!up.pending.empty()) {
    if (ctx.link->queued(id) >= low_water) {
      up.awaiting_drain = true;
      return;
    }
    auto now = self->clock().now();
    if (rate != 0 && st.next_free > now)
      return wait_for_cap(self, id);
    auto& r = up.pending.front();
    auto k = static_cast<uint32_t>(std::min<uint64_t>(per_frame, r.count));
    auto length = blocks_length(img, r.first, k);
    auto frame = block_frame(ctx, img, up.compress, r.first, length);
    if (!frame && img.partial && !img.partial->valid())
      return end_upload(self, id, "the image being recovered here changed");
    if (!frame) {
      ctx.log->error("donor", "{}", describe(frame.error()));
      return end_upload(self, id, "donor cannot read its image");
    }
    ctx.link->send_frame(id, std::move(*frame));
    up.sent += length;
    ctx.metrics->bytes_served.add({}, length);
    up.pending_blocks -= k;
    up.blocks_sent += k;
    r.first += k;
    r.count -= k;
    if (r.count == 0)
      up.pending.pop_front();
    charge(self, length);
  }
}

/// The cap is one clock for the whole node: every upload's frames move `next_free` on, so the
/// uploads share the cap rather than each taking it.
void charge(self_ptr self, uint64_t bytes) {
  auto& st = self->state;
  auto rate = st.ctx->config.donor.upload_rate_kbps;
  if (rate == 0)
    return;
  auto now = self->clock().now();
  st.next_free = std::max(now, st.next_free) + std::chrono::microseconds(bytes * 8 * 1000 / rate);
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
  if (auto why = outside_holdings(up, r); !why.empty())
    return end_upload(self, id, why);
  up.pending.push_back(r);
  up.pending_blocks += r.count;
  if (!up.awaiting_drain && !up.awaiting_cap)
    pump(self, id);
}

void on_node_request(self_ptr self, session_id id, const node_request& r) {
  auto& st = self->state;
  auto i = st.uploads.find(id);
  if (i == st.uploads.end() || !i->second.confirmed)
    return end_upload(self, id, "tree node request before a confirmed accept");
  auto& up = i->second;
  if (!up.tree) {
    const auto& m = up.image->manifest;
    up.tree = std::make_shared<const merkle_tree>(m.fields.hash, m.block_digests);
  }
  const auto& tree = *up.tree;
  if (r.level >= tree.height())
    return end_upload(
      self, id,
      fmt::format("tree level {} does not exist (the tree has {})", r.level, tree.height()));
  auto level = tree.level(r.level);
  if (r.first >= level.size() || r.count > level.size() - r.first)
    return end_upload(self, id,
                      fmt::format("tree nodes {}..{} of level {} do not exist (it has {})", r.first,
                                  r.first + r.count, r.level, level.size()));
  // A walk asks for each node at most once: the whole tree bounds what a session costs.
  auto limit = tree_nodes(tree);
  if (up.nodes_sent + r.count > limit)
    return end_upload(self, id,
                      fmt::format("asked for {} tree nodes, more than the {} of the whole tree",
                                  up.nodes_sent + r.count, limit));
  up.nodes_sent += r.count;
  // Nodes are progress too: the watchdog does not end a walk for asking for no blocks yet.
  up.sent += uint64_t{r.count} * sizeof(digest);
  charge(self, uint64_t{r.count} * sizeof(digest));
  auto from = level.begin() + static_cast<ptrdiff_t>(r.first);
  send_frame(self, id, nodes{r.level, r.first, {from, from + r.count}});
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
  auto floor = min_rate_bytes(*st.ctx, id) * static_cast<uint64_t>(window.count()) / 1000;
  // An upload held back by this donor's own rate cap is not the peer's doing.
  if (!up.pending.empty() && !up.awaiting_cap && moved < floor)
    return end_upload(self, id,
                      fmt::format("took {} bytes in {} ms, below the minimum of {} kbit/s", moved,
                                  limits.idle_ms, min_rate_bytes(*st.ctx, id) * 8 / 1000));
  self->delayed_send(self, window, watch_atom::value, id);
}

} // namespace fwrescue::donor_steps
