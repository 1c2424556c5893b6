#include "actors/fleet_identity.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/file_io.hpp"
#include "common/hex.hpp"

namespace fwrescue {

namespace {

/// A pin line is an id (at most the fleet text limit) and 64 hex digits: the file's size bound.
constexpr uint64_t max_pin_file = fleet_pins::max_pins * (fleet_limits::max_text + 66);

} // namespace

fleet_pins::fleet_pins(std::string path) : path_(std::move(path)) {
}

caf::error fleet_pins::load() {
  pins_.clear();
  changed_ = false;
  std::error_code ec;
  if (path_.empty() || !std::filesystem::exists(path_, ec))
    return caf::none;
  auto bytes = read_file(path_, max_pin_file, "fleet pin file");
  if (!bytes)
    return std::move(bytes.error());
  std::istringstream in{std::string{bytes->begin(), bytes->end()}};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty())
      continue;
    auto space = line.find(' ');
    auto key = space == std::string::npos ? std::nullopt : from_hex(line.substr(space + 1));
    if (!key || key->size() != 32 || space == 0 || pins_.size() >= max_pins)
      return make_error(errc::malformed,
                        fmt::format("{}:{}: expected \"NODE-ID HEX-KEY\" (at most {} lines)", path_,
                                    number, max_pins));
    public_key k;
    std::copy(key->begin(), key->end(), k.bytes.begin());
    pins_[line.substr(0, space)] = k;
  }
  return caf::none;
}

caf::error fleet_pins::save() {
  if (path_.empty()) {
    changed_ = false;
    return caf::none;
  }
  std::string text;
  for (const auto& [node, key] : pins_)
    text += node + " " + to_hex(key.bytes) + "\n";
  auto err = write_file_atomic(path_, {reinterpret_cast<const uint8_t*>(text.data()), text.size()},
                               0600, on_existing::replace, "fleet pin file");
  if (!err)
    changed_ = false;
  return err;
}

const public_key* fleet_pins::find(const std::string& node) const {
  auto i = pins_.find(node);
  return i == pins_.end() ? nullptr : &i->second;
}

bool fleet_pins::learn(const std::string& node, const public_key& key) {
  if (auto pinned = find(node))
    return *pinned == key;
  // Node ids travel as printable ASCII without spaces in practice; one with a space could not be
  // read back, so it is listed but never pinned.
  if (pins_.size() >= max_pins || node.find(' ') != std::string::npos)
    return false;
  pins_[node] = key;
  changed_ = true;
  return true;
}

std::string key_text(const public_key& key) {
  return to_hex(key.id());
}

fleet_judgement judge_answer(const fleet_answer& a, const fleet_judge& j) {
  const auto& f = a.fields;
  if (f.query_id != j.query.query_id || f.challenge != j.query.challenge)
    return {fleet_verdict::stale, "does not answer the current query (stale or replayed)"};
  if (!verify_fleet_answer(a))
    return {fleet_verdict::drop, "its signature does not verify under the key it carries"};
  if (f.node == j.self)
    return {fleet_verdict::drop, "it claims this node's own id"};
  if (f.role == node_role::console
      && std::find(j.console_keys.begin(), j.console_keys.end(), f.node_key)
           == j.console_keys.end())
    return {fleet_verdict::drop,
            fmt::format("it claims the console role with key {}, which is not among [trust] "
                        "console_keys",
                        key_text(f.node_key))};
  if (auto pinned = j.pins.find(f.node); pinned && *pinned != f.node_key)
    return {fleet_verdict::drop, fmt::format("its key {} is not the key {} pinned for {}",
                                             key_text(f.node_key), key_text(*pinned), f.node)};
  if (auto kept = j.kept.find(f.node); kept != j.kept.end())
    return kept->second == f.node_key
             ? fleet_judgement{fleet_verdict::duplicate, "answered twice"}
             : fleet_judgement{fleet_verdict::drop,
                               fmt::format("{} already answered this query with key {}; this "
                                           "answer has key {}",
                                           f.node, key_text(kept->second), key_text(f.node_key))};
  return {};
}

} // namespace fwrescue
