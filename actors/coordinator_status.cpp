#include "actors/coordinator.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "actors/boot_watch.hpp"
#include "common/error.hpp"
#include "common/hex.hpp"
#include "hal/boot_history.hpp"
#include "transports/link_set.hpp"

namespace fwrescue {

donor_history recent_history(const coordinator_state& st,
                             std::chrono::steady_clock::time_point now) {
  donor_history out;
  for (const auto& [donor, marks] : st.donor_marks)
    for (const auto& m : marks)
      if (now - m.at < donor_memory) {
        auto& entry = out[donor];
        ++entry.recent_failures;
        entry.recent_bad_blocks += m.bad_block ? 1 : 0;
      }
  return out;
}

void remember_dropped(caf::stateful_actor<coordinator_state>* self, const donor_dropped& d) {
  // Forged identities are cheap: at most this many donors are remembered, the oldest go.
  constexpr size_t max_remembered_donors = 256;
  auto& marks = self->state.donor_marks;
  auto now = std::chrono::steady_clock::now();
  for (auto i = marks.begin(); i != marks.end();) {
    std::erase_if(i->second, [&](const auto& m) { return now - m.at >= donor_memory; });
    i = i->second.empty() ? marks.erase(i) : std::next(i);
  }
  if (marks.size() >= max_remembered_donors && marks.count(d.donor) == 0) {
    auto oldest = std::min_element(marks.begin(), marks.end(), [](auto& a, auto& b) {
      return a.second.back().at < b.second.back().at;
    });
    marks.erase(oldest);
  }
  marks[d.donor].push_back({now, d.bad_block});
}

const char* to_string(recovery_phase p) {
  static constexpr const char* names[] = {"idle",         "discovering", "negotiating",
                                          "transferring", "staged",      "flashing",
                                          "verifying",    "done",        "failed"};
  return names[static_cast<int>(p)];
}

namespace {

/// The boots watched lately and the images that failed to boot on this host.
nlohmann::ordered_json boot_status(const node_context& ctx) {
  nlohmann::ordered_json j;
  j["watching"] = watching_boots(ctx);
  j["console"] = console_path(ctx);
  boot_history store{ctx.store->dir()};
  auto history = nlohmann::ordered_json::array();
  if (auto records = store.records(); !records) {
    j["error"] = describe(records.error());
  } else {
    // The most recent few: the file keeps more, for the count of failures in a row.
    constexpr size_t shown = 8;
    auto from = records->size() > shown ? records->size() - shown : 0;
    for (auto i = records->begin() + static_cast<std::ptrdiff_t>(from); i != records->end(); ++i)
      history.push_back({{"at", i->at},
                         {"root", to_hex(i->root)},
                         {"booted", i->booted},
                         {"outcome", i->outcome},
                         {"detail", i->detail}});
  }
  j["history"] = history;
  auto failed = nlohmann::ordered_json::array();
  if (auto roots = store.failed_roots(); roots)
    for (const auto& r : *roots)
      failed.push_back(to_hex(r));
  j["failed_roots"] = failed;
  return j;
}

} // namespace

std::string status_json(const coordinator_state& st) {
  const auto& ctx = *st.ctx;
  nlohmann::ordered_json j;
  j["node"] = ctx.config.id;
  j["target"] = ctx.target;
  j["component"] = ctx.config.flash.component;
  j["role"] = to_string(ctx.config.role);
  j["state"] = to_string(st.phase);
  j["safe_hold"] = st.safe_hold;
  j["recoveries"] = st.recoveries;
  j["policy"] = ctx.config.recovery.policy;
  auto installed = ctx.store->installed_manifest();
  if (installed && *installed) {
    const auto& f = (*installed)->fields;
    j["installed"] = {{"platform", f.platform.vendor + ":" + f.platform.board},
                      {"version", f.version},
                      {"svn", f.svn},
                      {"root", to_hex(f.merkle_root)}};
  } else {
    j["installed"] = nullptr;
  }
  if (ctx.link) {
    auto c = ctx.link->counters();
    j["turned_away"] = {{"datagrams", c.dropped_datagrams}, {"sessions", c.refused_sessions}};
  }
  if (auto set = std::dynamic_pointer_cast<link_set>(ctx.link)) {
    auto links = nlohmann::ordered_json::array();
    for (const auto& l : set->links()) {
      nlohmann::ordered_json one{{"name", l.name},
                                 {"up", l.up},
                                 {"address", l.address},
                                 {"rate_bps", l.properties.nominal_rate_bps}};
      if (!l.up)
        one["error"] = l.error;
      links.push_back(std::move(one));
    }
    j["links"] = std::move(links);
  }
  if (auto revoked = ctx.store->revocations(); revoked && *revoked)
    j["revocation_list"] = (*revoked)->fields.serial;
  auto floor = ctx.store->svn_floor();
  j["svn_floor"] = std::max(ctx.config.svn_floor, floor ? *floor : 0u);
  j["last_check"] = {{"checked", st.last_check.checked},
                     {"ok", st.last_check.ok()},
                     {"fault", st.last_check.fault == flash_fault::none
                                 ? nlohmann::ordered_json(nullptr)
                                 : nlohmann::ordered_json(to_string(st.last_check.fault))},
                     {"detail", st.last_check.detail}};
  if (recovering(st.phase)) {
    j["recovery"] = {{"number", st.recoveries}, {"reason", st.reason}, {"attempt", st.attempt},
                     {"flashes", st.flashes},    {"donor", st.donor}};
    if (st.progress_total > 0) {
      auto m = st.meter.read(std::chrono::steady_clock::now());
      auto optional = [](const std::optional<double>& v) {
        return v ? nlohmann::ordered_json(static_cast<uint64_t>(*v + 0.5))
                 : nlohmann::ordered_json(nullptr);
      };
      j["progress"] = {{"phase", to_string(st.phase)},
                       {"done", st.progress_done},
                       {"total", st.progress_total},
                       {"percent", st.progress_done * 100 / st.progress_total},
                       {"unit", st.phase == recovery_phase::flashing ? "sectors" : "blocks"},
                       {"bytes_done", m.bytes_done},
                       {"bytes_total", m.bytes_total},
                       {"rate_bytes_per_s", optional(m.rate_bytes_per_s)},
                       {"seconds_left", optional(m.seconds_left)}};
    }
  }
  auto tried = nlohmann::ordered_json::array();
  for (const auto& t : st.sources_tried)
    tried.push_back({{"source", t.source}, {"result", t.result}, {"served", t.served}});
  j["sources"] = {{"order", ctx.config.recovery.sources}, {"tried", std::move(tried)}};
  if (st.last) {
    j["last_recovery"] = {{"succeeded", st.last->succeeded},   {"donor", st.last->donor},
                          {"source", st.last->source},         {"version", st.last->version},
                          {"duration_ms", st.last->duration_ms}, {"detail", st.last->detail},
                          {"finished_at", st.last->finished_at}, {"number", st.last->number}};
  }
  if (st.last_negotiation) {
    auto offers = nlohmann::ordered_json::array();
    for (const auto& v : st.last_negotiation->verdicts)
      offers.push_back({{"donor", v.donor},
                        {"role", v.role},
                        {"version", v.version},
                        {"svn", v.svn},
                        {"compatible", v.compatible},
                        {"reason", v.reason},
                        {"rank", v.rank}});
    j["last_negotiation"] = {{"policy", st.last_negotiation->policy},
                             {"accepted", st.last_negotiation->accepted},
                             {"offers", offers}};
  }
  j["boot"] = boot_status(ctx);
  nlohmann::ordered_json host{{"backend", ctx.config.host_power.backend}};
  if (auto f = ctx.power_report ? ctx.power_report->last_failure() : std::nullopt)
    host["last_error"] = {{"at", f->at}, {"what", f->what}};
  j["host"] = host;
  return j.dump();
}

} // namespace fwrescue
