#include "frontends/node_query.hpp"

#include <algorithm>
#include <chrono>

#include <caf/scoped_actor.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "actors/node_context.hpp"
#include "common/error.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

namespace {

/// A coordinator answers from its mailbox without blocking; one that takes longer than this is
/// wedged, and the interface says so rather than hang its client.
constexpr auto answer_deadline = std::chrono::seconds(5);

template <class Answer = std::string, class Message>
caf::expected<Answer> ask(caf::actor_system& sys, const std::vector<std::string>& names,
                          uint32_t target, Message msg) {
  auto coord = find_role(sys, role_of(roles::coordinator, target));
  if (!coord)
    return make_error(errc::io_failure,
                      fmt::format("the coordinator of {} is not running", names.at(target)));
  caf::scoped_actor self{sys};
  caf::expected<Answer> answer{Answer{}};
  self->request(coord, answer_deadline, std::move(msg))
    .receive([&](Answer& s) { answer = std::move(s); },
             [&](caf::error& err) {
               answer = make_error(errc::io_failure,
                                   "coordinator did not answer: " + describe(err));
             });
  return answer;
}

} // namespace

node_query::node_query(caf::actor_system& sys, std::vector<std::string> targets)
  : sys_(sys), targets_(std::move(targets)) {
}

std::optional<uint32_t> node_query::index_of(std::string_view name) const {
  auto it = std::find(targets_.begin(), targets_.end(), name);
  if (it == targets_.end())
    return std::nullopt;
  return static_cast<uint32_t>(it - targets_.begin());
}

std::string node_query::unknown_target(std::string_view name) const {
  return fmt::format("unknown target '{}' (this node has: {})", name, fmt::join(targets_, ", "));
}

caf::expected<nlohmann::ordered_json> node_query::status(uint32_t target) const {
  if (target >= targets_.size())
    return make_error(errc::invalid_argument, fmt::format("no target number {}", target));
  auto answer = ask(sys_, targets_, target, status_atom::value);
  if (!answer)
    return std::move(answer.error());
  auto parsed = nlohmann::ordered_json::parse(*answer, nullptr, false);
  if (parsed.is_discarded())
    return make_error(errc::io_failure,
                      fmt::format("the coordinator of {} answered with malformed JSON",
                                  targets_[target]));
  return parsed;
}

caf::expected<nlohmann::ordered_json> node_query::node_status() const {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  nlohmann::ordered_json first;
  for (uint32_t i = 0; i < targets_.size(); ++i) {
    auto one = status(i);
    if (!one)
      return std::move(one.error());
    if (i == 0)
      first = *one;
    all.push_back(std::move(*one));
  }
  if (targets_.size() > 1)
    first["targets"] = std::move(all);
  return first;
}

caf::expected<fleet_report> node_query::fleet(std::chrono::milliseconds wait) const {
  auto actor = find_role(sys_, roles::fleet);
  if (!actor)
    return make_error(errc::io_failure, "the fleet view is not running");
  caf::scoped_actor self{sys_};
  caf::expected<fleet_report> answer{fleet_report{}};
  // The window is bounded by the fleet actor; beyond it, the node's own coordinators answer.
  auto deadline = std::max(wait, fleet_bounds::max_wait) + answer_deadline;
  self->request(actor, deadline, fleet_scan_request{wait})
    .receive([&](fleet_report& r) { answer = std::move(r); },
             [&](caf::error& err) {
               answer = make_error(errc::io_failure, "fleet query: " + describe(err));
             });
  return answer;
}

caf::expected<std::string> node_query::recover(uint32_t target) const {
  if (target >= targets_.size())
    return make_error(errc::invalid_argument, fmt::format("no target number {}", target));
  return ask(sys_, targets_, target, recover_atom::value);
}

caf::expected<recovery_started>
node_query::recover_from(uint32_t target, std::shared_ptr<image_location> location,
                         std::string reason) const {
  if (target >= targets_.size())
    return make_error(errc::invalid_argument, fmt::format("no target number {}", target));
  return ask<recovery_started>(sys_, targets_, target,
                               recover_from_location{std::move(location), std::move(reason)});
}

} // namespace fwrescue
