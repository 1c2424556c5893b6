#include "tools/icmb-bus/bus.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace icmb_bus {

std::string render(const bus_counters& c) {
  return fmt::format("bytes {} collisions {} bit_flips {} dropped {}", c.bytes, c.collisions,
                     c.bit_flips, c.dropped);
}

bus::bus(size_t nodes, double bit_error_rate, uint64_t seed)
  : nodes_(nodes),
    flip_threshold_(
      bit_error_rate >= 1 ? 0 : static_cast<uint64_t>(std::ldexp(bit_error_rate, 64))),
    always_flip_(bit_error_rate >= 1),
    flip_rng_(seed),
    garble_rng_(seed ^ 0x9e3779b97f4a7c15ULL) {
  senders_.reserve(nodes);
}

size_t bus::tx_room(size_t node) const {
  return tx_limit - std::min(tx_limit, nodes_[node].tx.size());
}

void bus::queue(size_t node, std::span<const uint8_t> bytes, uint64_t first_slot) {
  auto& n = nodes_[node];
  // Bytes behind others already waiting are paced by those; only a fresh start is held back.
  if (n.tx.empty())
    n.first_slot = first_slot;
  n.tx.insert(n.tx.end(), bytes.begin(), bytes.end());
}

bool bus::idle() const {
  return std::all_of(nodes_.begin(), nodes_.end(), [](const node& n) { return n.tx.empty(); });
}

void bus::run_slot(uint64_t slot) {
  senders_.clear();
  for (auto& n : nodes_) {
    if (n.tx.empty() || slot < n.first_slot)
      continue;
    senders_.push_back(n.tx.front());
    n.tx.pop_front();
  }
  if (senders_.empty())
    return;
  if (senders_.size() == 1) {
    ++counters_.bytes;
    deliver(flip_bits(senders_.front()));
  } else {
    ++counters_.collisions;
    deliver(garble(senders_));
  }
}

std::vector<uint8_t>& bus::rx(size_t node) {
  return nodes_[node].rx;
}

void bus::count_dropped(uint64_t n) {
  counters_.dropped += n;
}

uint8_t bus::flip_bits(uint8_t byte) {
  if (flip_threshold_ == 0 && !always_flip_)
    return byte;
  for (int bit = 0; bit < 8; ++bit) {
    if (always_flip_ || flip_rng_() < flip_threshold_) {
      byte ^= static_cast<uint8_t>(1u << bit);
      ++counters_.bit_flips;
    }
  }
  return byte;
}

// Two drivers fighting on RS-485 leave the receivers' reading undefined; what matters to a
// node is that it can tell something went wrong, so the byte never equals any sender's.
uint8_t bus::garble(std::span<const uint8_t> sent) {
  for (;;) {
    auto candidate = static_cast<uint8_t>(garble_rng_());
    if (std::find(sent.begin(), sent.end(), candidate) == sent.end())
      return candidate;
  }
}

void bus::deliver(uint8_t byte) {
  for (auto& n : nodes_) {
    if (n.rx.size() < rx_limit)
      n.rx.push_back(byte);
    else
      ++counters_.dropped;
  }
}

} // namespace icmb_bus
