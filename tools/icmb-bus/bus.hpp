#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace icmb_bus {

/// What the bus has done so far; rendered as the one stats line.
struct bus_counters {
  /// Slots that carried one sender's byte (counted once, however many nodes received it).
  uint64_t bytes = 0;
  /// Slots in which two or more nodes sent, so everyone received a garbled byte.
  uint64_t collisions = 0;
  /// Bits flipped on the wire by the bit-error rate.
  uint64_t bit_flips = 0;
  /// Bytes a node did not receive because its pty buffer was full.
  uint64_t dropped = 0;
};

/// `bytes N collisions N bit_flips N dropped N`.
std::string render(const bus_counters& c);

/// The shared half-duplex wire, without any I/O: each node's transmit queue (its UART), one
/// byte per slot from each non-empty queue, collisions, bit errors, and what each node is due
/// to receive. The caller reads and writes the ptys and says which slots have elapsed.
class bus {
public:
  /// Bytes a node may have waiting to be sent; the caller stops reading its pty above this,
  /// so a node that writes faster than the bus is held back rather than growing our memory.
  static constexpr size_t tx_limit = 4096;
  /// Bytes held for one node between two flushes; beyond this they count as dropped.
  static constexpr size_t rx_limit = 65536;

  bus(size_t nodes, double bit_error_rate, uint64_t seed);

  /// Room left in `node`'s transmit queue.
  size_t tx_room(size_t node) const;

  /// Adds bytes `node` wrote. They may go out no earlier than slot `first_slot`, the first
  /// slot that starts after they were read: a byte cannot leave before it was written.
  void queue(size_t node, std::span<const uint8_t> bytes, uint64_t first_slot);

  /// True when no node has anything to send, so elapsed slots need no work.
  bool idle() const;

  /// Runs slot `slot`: one byte leaves every non-empty queue that may send in it, and the
  /// result (clean, garbled or nothing) is appended to every node's receive buffer.
  void run_slot(uint64_t slot);

  /// What `node` is due to receive; the caller writes it out and clears it.
  std::vector<uint8_t>& rx(size_t node);

  /// Records bytes the caller could not hand to a node.
  void count_dropped(uint64_t n);

  size_t nodes() const {
    return nodes_.size();
  }
  const bus_counters& counters() const {
    return counters_;
  }

private:
  struct node {
    std::deque<uint8_t> tx;
    uint64_t first_slot = 0;
    std::vector<uint8_t> rx;
  };

  uint8_t flip_bits(uint8_t byte);
  uint8_t garble(std::span<const uint8_t> sent);
  void deliver(uint8_t byte);

  std::vector<node> nodes_;
  // A bit flips when a draw is below this; 0 turns bit errors off.
  uint64_t flip_threshold_;
  bool always_flip_;
  // Separate streams, so collisions never shift which bits flip in a repeated run.
  std::mt19937_64 flip_rng_;
  std::mt19937_64 garble_rng_;
  std::vector<uint8_t> senders_;
  bus_counters counters_;
};

} // namespace icmb_bus
