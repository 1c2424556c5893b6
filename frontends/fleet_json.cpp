#include "frontends/fleet_json.hpp"

#include "common/hex.hpp"

namespace fwrescue {

namespace {

using json = nlohmann::ordered_json;

json target_json(const fleet_target& t) {
  json j{{"target", t.name},
         {"component", t.component},
         {"version", t.version.empty() ? json(nullptr) : json(t.version)},
         {"svn", t.svn},
         {"root", t.root ? json(to_hex(*t.root)) : json(nullptr)},
         {"state", t.state}};
  if (t.last_outcome.empty())
    j["last_recovery"] = nullptr;
  else
    j["last_recovery"] = {
      {"outcome", t.last_outcome}, {"number", t.last_number}, {"finished_at", t.last_at}};
  return j;
}

json node_json(const fleet_entry& e) {
  const auto& f = e.fields;
  auto links = json::array();
  for (const auto& l : f.links)
    links.push_back({{"name", l.name}, {"up", l.up}});
  auto targets = json::array();
  for (const auto& t : f.targets)
    targets.push_back(target_json(t));
  return {{"node", f.node},
          {"self", e.self},
          {"address", e.self ? json(nullptr) : json(e.address)},
          {"role", to_string(f.role)},
          {"key", to_hex(f.node_key.bytes)},
          {"links", std::move(links)},
          {"targets", std::move(targets)},
          {"truncated", f.truncated}};
}

} // namespace

nlohmann::ordered_json fleet_json(const fleet_report& report) {
  auto nodes = json::array();
  for (const auto& e : report.nodes)
    nodes.push_back(node_json(e));
  auto dropped = json::array();
  for (const auto& d : report.dropped)
    dropped.push_back({{"address", d.address}, {"node", d.node}, {"reason", d.why}});
  return {{"asker", report.asker},
          {"window_ms", report.window_ms},
          {"nodes", std::move(nodes)},
          {"dropped", std::move(dropped)},
          {"left_out", report.left_out}};
}

} // namespace fwrescue
