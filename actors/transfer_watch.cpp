// Watching the donors pulled from: each has a deadline a block timeout after its last frame,
// and a rate it must keep while it owes blocks; one that fails either is dropped.
#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "actors/transfer_steps.hpp"
#include "transports/link_timing.hpp"

namespace fwrescue::transfer_steps {

namespace {

using puller = transfer_state::puller;

/// How long a donor may send nothing: the configured block timeout, or longer where its link
/// needs that to move a window of blocks.
std::chrono::milliseconds block_timeout_of(const transfer_state& st, const puller& p) {
  uint64_t window_bytes = uint64_t{window_of(st, p)} * st.target.fields.block_size;
  return block_timeout(std::chrono::milliseconds(st.ctx->config.recovery.block_timeout_ms), p.link,
                       window_bytes);
}

/// The lowest rate, in bytes per second, a donor with blocks outstanding must send at: the
/// configured minimum, but at most a quarter of the nominal rate of the session's link.
uint64_t min_rate_bytes(const node_context& ctx, const link_properties& session_link) {
  uint64_t bits = uint64_t{ctx.config.limits.min_rate_kbps} * 1000;
  if (auto link = session_link.nominal_rate_bps; link != 0)
    bits = std::min(bits, link / 4);
  return bits / 8;
}

} // namespace

/// Pushes a donor's deadline to a block timeout from now; one timer per donor watches it, and
/// finds out when it fires whether the deadline moved meanwhile.
void extend_deadline(self_ptr self, session_id id, puller& p) {
  auto timeout = block_timeout_of(self->state, p);
  p.deadline = self->clock().now() + timeout;
  if (!p.deadline_timer) {
    p.deadline_timer = true;
    self->delayed_send(self, timeout, deadline_atom::value, id, p.serial);
  }
}

/// A donor's deadline timer fired: drop it when nothing came for a block timeout, or when over
/// the last limits.idle_ms it sent below the minimum rate with blocks outstanding.
void check_deadline(self_ptr self, session_id id, uint64_t serial) {
  auto& st = self->state;
  auto found = st.pullers.find(id);
  if (found == st.pullers.end() || found->second.serial != serial)
    return; // A timer of a donor dropped since.
  auto& p = found->second;
  p.deadline_timer = false;
  auto now = self->clock().now();
  // A donor waiting for the digests to come through another, or with nothing asked of it
  // (everything it holds is held or asked elsewhere), owes us nothing.
  bool owes = !p.ready || !p.outstanding.empty() || p.verifying != 0;
  if (!owes) {
    p.deadline = now + block_timeout_of(st, p);
  } else if (now >= p.deadline) {
    return drop_puller(self, id,
                       fmt::format("sent nothing for {} ms", block_timeout_of(st, p).count()));
  }
  auto window = std::chrono::milliseconds(st.ctx->config.limits.idle_ms);
  if (now - p.rate_checked >= window) {
    auto got = p.received - p.received_at_check;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - p.rate_checked);
    auto floor = min_rate_bytes(*st.ctx, p.link) * static_cast<uint64_t>(ms.count()) / 1000;
    p.received_at_check = p.received;
    p.rate_checked = now;
    if (st.at == transfer_state::phase::pulling && !p.outstanding.empty() && got < floor)
      return drop_puller(self, id,
                         fmt::format("sent {} bytes in {} ms, below the minimum of {} kbit/s", got,
                                     ms.count(), min_rate_bytes(*st.ctx, p.link) * 8 / 1000));
  }
  p.deadline_timer = true;
  self->delayed_send(self, p.deadline - now, deadline_atom::value, id, p.serial);
}

} // namespace fwrescue::transfer_steps
