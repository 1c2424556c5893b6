#include <algorithm>

#include <fmt/format.h>

#include "actors/donor_steps.hpp"

namespace fwrescue::donor_steps {

namespace {

/// An upload runs this long before its slot can go to another recipient: a slot that changed
/// hands at every accept would serve nobody.
constexpr auto min_served = std::chrono::milliseconds(250);

/// What a preempted recipient is told to wait before it asks again.
constexpr uint32_t preempted_retry_ms = 2000;

/// About what the recipient of `up` holds now: what it said it held, and what we sent it since.
uint64_t holds_now(const donor_state::upload& up) {
  return up.blocks_held + up.blocks_sent;
}

} // namespace

bool preempt_for(self_ptr self, const accept& a, const served_image& img) {
  auto& st = self->state;
  auto now = self->clock().now();
  // The served recipient holding the most, of those served long enough to be moved.
  auto richest = st.uploads.end();
  for (auto i = st.uploads.begin(); i != st.uploads.end(); ++i) {
    const auto& up = i->second;
    if (!up.confirmed || now - up.confirmed_at < min_served)
      continue;
    if (richest == st.uploads.end() || holds_now(up) > holds_now(richest->second))
      richest = i;
  }
  if (richest == st.uploads.end())
    return false;
  // Slots go where a block does the most good: a recipient with few blocks spreads each one it
  // gets further than one that is nearly done. An eighth of the image keeps two recipients of
  // about the same progress from trading a slot back and forth.
  auto margin = std::max<uint64_t>(1, img.manifest.fields.block_count() / 8);
  auto held = holds_now(richest->second);
  if (a.fields.blocks_held > held || held - a.fields.blocks_held < margin)
    return false;
  auto id = richest->first;
  auto& up = richest->second;
  st.ctx->log->info("donor",
                    "slot of {} (holds about {} blocks) goes to {} (holds {}): it holds fewer",
                    up.peer, held, a.fields.recipient, a.fields.blocks_held);
  send_frame(self, id, busy{up.request_id, preempted_retry_ms});
  // The slot is free from now on, not only once the transport has closed the session.
  st.uploads.erase(richest);
  st.ctx->link->close_session(id);
  return true;
}

} // namespace fwrescue::donor_steps
