#include "tools/fwrescued/metrics_setup.hpp"

#include <string>
#include <utility>

#include "common/error.hpp"
#include "hal/flash/counting.hpp"
#include "metrics/exposition.hpp"
#include "transports/link_set.hpp"

namespace fwrescue {

namespace {

using counted = std::vector<std::pair<std::string, std::shared_ptr<counting_flash>>>;

family_snapshot counter_snapshot(std::string name, std::string help,
                                 std::vector<std::string> labels) {
  family_snapshot f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = metric_type::counter;
  f.labels = std::move(labels);
  return f;
}

void add(family_snapshot& f, std::vector<std::string> values, uint64_t value) {
  series_snapshot s;
  s.values = std::move(values);
  s.value = value;
  f.series.push_back(std::move(s));
}

/// The flashes' requests (counted here) and the chips' own operations (where the backend
/// counts them: the file backend does, flashrom does not say).
void collect_flash(const counted& chips, std::vector<family_snapshot>& out) {
  auto requests = counter_snapshot("fwrescue_flash_requests_total",
                                   "Erase, program and rewrite requests that succeeded on a "
                                   "target's flash.",
                                   {"target", "op"});
  auto bytes = counter_snapshot("fwrescue_flash_request_bytes_total",
                                "Bytes those requests covered.", {"target", "op"});
  auto chip_ops = counter_snapshot("fwrescue_flash_chip_operations_total",
                                   "Sector erases, block erases and page programs the chip did, "
                                   "where its backend counts them.",
                                   {"target", "op"});
  for (const auto& [target, chip] : chips) {
    auto r = chip->requests();
    add(requests, {target, "erase"}, r.erases);
    add(requests, {target, "program"}, r.programs);
    add(requests, {target, "rewrite"}, r.rewrites);
    add(bytes, {target, "erase"}, r.erase_bytes);
    add(bytes, {target, "program"}, r.program_bytes);
    add(bytes, {target, "rewrite"}, r.rewrite_bytes);
    if (auto ops = chip->op_counts()) {
      add(chip_ops, {target, "sector_erase"}, ops->sector_erases);
      add(chip_ops, {target, "block_erase"}, ops->block_erases);
      add(chip_ops, {target, "page_program"}, ops->page_programs);
    }
  }
  out.push_back(std::move(requests));
  out.push_back(std::move(bytes));
  out.push_back(std::move(chip_ops));
}

/// What each link turned away (the transports count it for status; rendered from there).
void collect_links(const std::shared_ptr<transport>& link, std::vector<family_snapshot>& out) {
  auto dropped = counter_snapshot("fwrescue_link_datagrams_dropped_total",
                                  "Datagrams a link dropped: too large, over the backlog, or "
                                  "not sendable.",
                                  {"link"});
  auto refused = counter_snapshot("fwrescue_link_sessions_refused_total",
                                  "Sessions a link refused, replaced or closed under the session "
                                  "limits.",
                                  {"link"});
  if (auto set = std::dynamic_pointer_cast<link_set>(link)) {
    for (const auto& l : set->links()) {
      add(dropped, {l.name}, l.counters.dropped_datagrams);
      add(refused, {l.name}, l.counters.refused_sessions);
    }
  } else if (link) {
    auto c = link->counters();
    add(dropped, {link->properties().kind}, c.dropped_datagrams);
    add(refused, {link->properties().kind}, c.refused_sessions);
  }
  out.push_back(std::move(dropped));
  out.push_back(std::move(refused));
}

} // namespace

void instrument_targets(const std::vector<std::shared_ptr<node_context>>& targets) {
  if (targets.empty())
    return;
  counted chips;
  for (const auto& ctx : targets) {
    auto chip = std::make_shared<counting_flash>(ctx->chip);
    ctx->chip = chip;
    chips.emplace_back(ctx->target, std::move(chip));
  }
  auto& registry = targets.front()->metrics->registry;
  registry.add_collector([chips](std::vector<family_snapshot>& out) { collect_flash(chips, out); });
  registry.add_collector([link = targets.front()->link](std::vector<family_snapshot>& out) {
    collect_links(link, out);
  });
}

std::unique_ptr<metrics_listener> start_metrics_listener(const node_context& ctx) {
  const auto& endpoint = ctx.config.metrics.listen;
  if (endpoint.empty())
    return nullptr;
  auto metrics = ctx.metrics;
  auto listener =
    metrics_listener::start(endpoint, [metrics] { return render(metrics->registry); });
  if (!listener) {
    ctx.log->error("main", "{}; running without metrics", describe(listener.error()));
    return nullptr;
  }
  ctx.log->info("main", "metrics at http://{}/metrics", endpoint);
  return std::move(*listener);
}

} // namespace fwrescue
