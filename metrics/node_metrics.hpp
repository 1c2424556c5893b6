#pragma once

// The metrics a node's actors count, by name, so an actor writes
// `ctx.metrics->bytes_pulled.add({ctx.target, "peers"}, n)` and every family is declared (and
// documented in docs/metrics.md) in one place.

#include <string>

#include "metrics/registry.hpp"

namespace fwrescue {

struct node_metrics {
  node_metrics();
  node_metrics(const node_metrics&) = delete;
  node_metrics& operator=(const node_metrics&) = delete;

  /// Declared first: the families below live in it.
  metric_registry registry;

  /// Recoveries that ended, by target, outcome (succeeded, failed) and the source that served
  /// the image (peers, local, removable, http; "none" when none did).
  counter_family& recoveries;
  /// How long each recovery took, start to verified flash (or to giving up), by target and
  /// outcome.
  histogram_family& recovery_seconds;
  /// Image bytes received for a recovery, by target and source (before verification: a block
  /// that fails it was still pulled).
  counter_family& bytes_pulled;
  /// How long a transfer or a location's fetch took until the image was staged, by target and
  /// source.
  histogram_family& transfer_seconds;
  /// Block bytes this node's donor handed to the link for recipients.
  counter_family& bytes_served;
  /// Donors dropped for sending a block (or digests, or tree nodes) that failed verification,
  /// by target and donor id. The donor id is the peer's own claim: the family is capped.
  counter_family& blocks_rejected;
  /// Offers that came for a recovery, by target and verdict (compatible, incompatible).
  counter_family& offers;
  /// How long the flasher took (plan, erase and program, read back and check), by target.
  histogram_family& flash_seconds;

  /// Records a recovery that ended.
  void recovery_ended(const std::string& target, bool succeeded, const std::string& source,
                      uint64_t duration_ms);
};

/// The bucket bounds of the duration histograms, in seconds: a recovery over a LAN takes
/// seconds, over a serial bus or BLE tens of minutes.
extern const std::vector<double> duration_buckets;

} // namespace fwrescue
