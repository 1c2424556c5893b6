#include <algorithm>

#include <fmt/format.h>

#include "actors/donor_steps.hpp"

namespace fwrescue::donor_steps {

namespace {

/// How often recipients of a partial image hear that the set has grown: often enough that a
/// block verified here is asked for well within a recipient's block timeout, seldom enough that
/// the frames cost nothing next to the blocks.
constexpr auto holdings_interval = std::chrono::milliseconds(250);

/// Why uploads of a partial image end when the image goes: the recipient goes on elsewhere.
constexpr const char* image_changed = "the image being recovered here changed";

/// The set held now as told to a recipient: the encoding within `max_bytes` (cut to a true
/// subset when longer) and the set it stands for.
std::pair<std::vector<uint8_t>, block_set> told_set(const partial_image& img, size_t max_bytes) {
  auto bytes = img.holdings().encode(max_bytes);
  auto set = block_set::decode(bytes, img.manifest().fields.block_count());
  // Our own encoding always decodes; an empty set stands in should it ever not.
  return {bytes, set ? std::move(*set) : block_set(img.manifest().fields.block_count())};
}

void end_uploads_of(self_ptr self, const served_image* img) {
  std::vector<session_id> ending;
  for (const auto& [id, up] : self->state.uploads)
    if (up.image.get() == img)
      ending.push_back(id);
  for (auto id : ending)
    end_upload(self, id, image_changed);
}

} // namespace

void on_partial_update(self_ptr self, partial_update& u) {
  auto& st = self->state;
  auto i = st.partials.find(u.target_index);
  if (i != st.partials.end() && u.image && i->second->partial == u.image)
    return; // The same image again: it only grew.
  if (i != st.partials.end()) {
    // Blocks of the old image may no longer be where it said (the transfer moved on, or the
    // flasher rewrites the flash): its uploads end, and their recipients go on elsewhere.
    auto old = i->second;
    st.partials.erase(i);
    end_uploads_of(self, old.get());
  }
  if (!u.image || !u.image->valid())
    return;
  const auto& ctx = *st.ctx;
  const auto& m = u.image->manifest();
  if (m.block_digests.size() != m.fields.block_count()) {
    ctx.log->error("donor",
                   "the image being recovered by target {} is not served: its manifest "
                   "has {} block digests for {} blocks",
                   u.target_index, m.block_digests.size(), m.fields.block_count());
    return;
  }
  auto label = u.target_index == 0
                 ? std::string{"image being recovered"}
                 : fmt::format("image being recovered by target {}", u.target_index);
  st.partials[u.target_index] =
    std::make_shared<const served_image>(served_image{label, m, {}, {}, u.image});
  ctx.log->info("donor", "serving the verified blocks of the {} ({} {}, {} of {} held)", label,
                m.fields.component, m.fields.version, u.image->count(), m.fields.block_count());
}

std::vector<std::shared_ptr<const served_image>>
partials_to_offer(const donor_state& st,
                  const std::vector<std::shared_ptr<const served_image>>& full) {
  std::vector<std::shared_ptr<const served_image>> out;
  auto offered = [&](const digest& root) {
    auto same = [&](const auto& img) { return img->manifest.fields.merkle_root == root; };
    return std::any_of(full.begin(), full.end(), same) || std::any_of(out.begin(), out.end(), same);
  };
  for (const auto& [index, img] : st.partials)
    if (img->partial->valid() && !offered(img->manifest.fields.merkle_root))
      out.push_back(img);
  return out;
}

std::vector<uint8_t> signed_offer(const node_context& ctx, const std::string& to, offer_fields f,
                                  const served_image& img) {
  if (!img.partial)
    return encode(make_offer(std::move(f), *ctx.node_key));
  auto held = img.partial->holdings();
  f.holds = held.encode(wire_limits::max_offer_holds);
  auto bytes = encode(make_offer(f, *ctx.node_key));
  auto limit = ctx.link->address_properties(to).max_datagram;
  if (limit == 0 || bytes.size() <= limit)
    return bytes;
  // Cut the set by what the offer is over, and a word more: the encoding pads data to 8 bytes.
  // However short, a set's encoding is never empty, which would claim the whole image.
  auto over = bytes.size() - limit + 8;
  f.holds = held.encode(f.holds.size() > over ? f.holds.size() - over : 0);
  return encode(make_offer(std::move(f), *ctx.node_key));
}

void start_partial_upload(self_ptr self, session_id id) {
  auto& st = self->state;
  auto& up = st.uploads.at(id);
  // The offer named the blocks held then; the set may have grown since. Telling the recipient
  // now makes what it was told exact, whatever the offer said.
  auto [bytes, set] = told_set(*up.image->partial, wire_limits::max_holdings);
  up.told = std::move(set);
  send_frame(self, id, holdings{std::move(bytes)});
  if (!st.holdings_timer) {
    st.holdings_timer = true;
    self->delayed_send(self, holdings_interval, holdings_atom::value);
  }
}

std::string outside_holdings(const donor_state::upload& up, const block_request& r) {
  if (!up.image->partial || up.told.contains(r.first, r.count))
    return {};
  auto missing = r.first;
  while (up.told.contains(missing))
    ++missing;
  return fmt::format("block {} was not offered (this donor holds only part of the image)", missing);
}

void holdings_tick(self_ptr self) {
  auto& st = self->state;
  st.holdings_timer = false;
  std::vector<session_id> partial_uploads;
  for (const auto& [id, up] : st.uploads)
    if (up.confirmed && up.image->partial)
      partial_uploads.push_back(id);
  for (auto id : partial_uploads) {
    auto i = st.uploads.find(id);
    if (i == st.uploads.end())
      continue;
    auto& up = i->second;
    const auto& img = *up.image->partial;
    if (!img.valid()) {
      end_upload(self, id, image_changed);
      continue;
    }
    if (img.count() <= up.told.count())
      continue;
    auto [bytes, set] = told_set(img, wire_limits::max_holdings);
    if (set.count() <= up.told.count())
      continue; // Grown only past what the encoding's bound can say.
    // A set cut to its bound may leave out blocks told before, which the recipient may have
    // asked for already: they are still held, and stay askable.
    for (uint64_t b = 0; b < up.told.block_count(); ++b)
      if (up.told.contains(b))
        set.insert(b);
    up.told = std::move(set);
    send_frame(self, id, holdings{std::move(bytes)});
  }
  auto serving = std::any_of(st.uploads.begin(), st.uploads.end(), [](const auto& u) {
    return u.second.confirmed && u.second.image->partial;
  });
  if (serving) {
    st.holdings_timer = true;
    self->delayed_send(self, holdings_interval, holdings_atom::value);
  }
}

} // namespace fwrescue::donor_steps
