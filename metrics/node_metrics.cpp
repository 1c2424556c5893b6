#include "metrics/node_metrics.hpp"

namespace fwrescue {

const std::vector<double> duration_buckets = {0.1, 0.25, 0.5, 1,   2.5,  5,    10,  30,
                                              60,  120,  300, 600, 1800, 3600, 7200};

node_metrics::node_metrics()
  : recoveries(registry.counter("fwrescue_recoveries_total",
                                "Recoveries that ended, by target, outcome and serving source.",
                                {"target", "outcome", "source"})),
    recovery_seconds(registry.histogram("fwrescue_recovery_duration_seconds",
                                        "Time from a recovery's start to its end.",
                                        {"target", "outcome"}, duration_buckets)),
    bytes_pulled(registry.counter("fwrescue_pulled_bytes_total",
                                  "Image bytes received for recoveries, by target and source.",
                                  {"target", "source"})),
    transfer_seconds(
      registry.histogram("fwrescue_transfer_duration_seconds",
                         "Time from a transfer's or fetch's start until its image was staged.",
                         {"target", "source"}, duration_buckets)),
    bytes_served(registry.counter("fwrescue_donor_served_bytes_total",
                                  "Block bytes the donor handed to the link for recipients.", {})),
    blocks_rejected(
      registry.counter("fwrescue_blocks_rejected_total",
                       "Donors dropped for data that failed verification, by target and donor id.",
                       {"target", "donor"})),
    offers(registry.counter("fwrescue_offers_total",
                            "Offers received for recoveries, by target and verdict.",
                            {"target", "verdict"})),
    flash_seconds(registry.histogram("fwrescue_flash_duration_seconds",
                                     "Time the flasher took to write and check an image.",
                                     {"target"}, duration_buckets)) {
}

void node_metrics::recovery_ended(const std::string& target, bool succeeded,
                                  const std::string& source, uint64_t duration_ms) {
  const char* outcome = succeeded ? "succeeded" : "failed";
  recoveries.add({target, outcome, source.empty() ? "none" : source});
  recovery_seconds.observe({target, outcome}, static_cast<double>(duration_ms) / 1000.0);
}

} // namespace fwrescue
