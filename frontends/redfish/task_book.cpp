#include "frontends/redfish/task_book.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace fwrescue::redfish {

namespace {

/// Phases before the image is staged count for the first part, the flash for the second.
struct phase_span {
  const char* phase;
  uint32_t from;
  uint32_t to;
};

constexpr phase_span spans[] = {
  {"discovering", 0, 5}, {"negotiating", 5, 5}, {"transferring", 5, 60},
  {"staged", 60, 60},    {"flashing", 60, 95},  {"verifying", 95, 99},
};

uint64_t number_in(const nlohmann::ordered_json& j, const char* key) {
  if (!j.is_object())
    return 0;
  auto it = j.find(key);
  if (it == j.end() || !it->is_object())
    return 0;
  auto n = it->find("number");
  return n != it->end() && n->is_number_unsigned() ? n->get<uint64_t>() : 0;
}

std::string text_in(const nlohmann::ordered_json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

} // namespace

uint32_t percent_of(const std::string& phase, std::optional<uint64_t> phase_percent) {
  for (const auto& s : spans)
    if (phase == s.phase) {
      auto p = std::min<uint64_t>(phase_percent.value_or(0), 100);
      return s.from + static_cast<uint32_t>((s.to - s.from) * p / 100);
    }
  return 0;
}

task_entry* task_book::find(uint32_t target, uint64_t number) {
  for (auto& t : tasks_)
    if (t.target == target && t.number == number)
      return &t;
  return nullptr;
}

const task_entry* task_book::find(uint64_t id) const {
  for (const auto& t : tasks_)
    if (t.id == id)
      return &t;
  return nullptr;
}

task_entry& task_book::add(uint32_t target, const std::string& target_name, uint64_t number,
                           const std::string& reason, int64_t now) {
  if (highest_.size() <= target)
    highest_.resize(target + 1, 0);
  highest_[target] = std::max(highest_[target], number);
  if (tasks_.size() >= keep_) {
    auto done = std::find_if(tasks_.begin(), tasks_.end(), [](auto& t) { return t.finished(); });
    tasks_.erase(done != tasks_.end() ? done : tasks_.begin());
  }
  task_entry t;
  t.id = next_id_++;
  t.target = target;
  t.target_name = target_name;
  t.number = number;
  t.reason = reason;
  t.start_time = now;
  t.messages.push_back({"TaskEvent.1.0.TaskStarted",
                        fmt::format("The task with Id '{}' has started.", t.id),
                        {std::to_string(t.id)},
                        "OK"});
  tasks_.push_back(std::move(t));
  return tasks_.back();
}

void task_book::finish(task_entry& t, bool ok, const std::string& detail, int64_t at) {
  if (t.finished())
    return;
  t.end_time = at;
  auto id = std::to_string(t.id);
  if (ok) {
    t.state = "Completed";
    t.status = "OK";
    t.percent = 100;
    t.messages.push_back({"TaskEvent.1.0.TaskCompletedOK",
                          fmt::format("The task with Id '{}' has completed.", id),
                          {id},
                          "OK"});
  } else {
    t.state = "Exception";
    t.status = "Critical";
    t.messages.push_back({"TaskEvent.1.0.TaskAborted",
                          fmt::format("The task with Id '{}' has been aborted: {}", id, detail),
                          {id},
                          "Critical"});
  }
}

uint64_t task_book::bind(uint32_t target, const std::string& target_name, uint64_t number,
                         const std::string& reason, int64_t now) {
  if (auto* t = find(target, number))
    return t->id;
  return add(target, target_name, number, reason, now).id;
}

void task_book::observe(uint32_t target, const std::string& target_name,
                        const nlohmann::ordered_json& status, int64_t now) {
  if (!status.is_object())
    return;
  auto running = number_in(status, "recovery");
  auto last = number_in(status, "last_recovery");
  uint64_t seen = target < highest_.size() ? highest_[target] : 0;
  if (running != 0) {
    auto* t = find(target, running);
    if (!t && running > seen)
      t = &add(target, target_name, running, text_in(status["recovery"], "reason"), now);
    if (t && !t->finished()) {
      t->state = "Running";
      std::optional<uint64_t> within;
      if (auto p = status.find("progress"); p != status.end() && p->is_object())
        if (auto pc = p->find("percent"); pc != p->end() && pc->is_number_unsigned())
          within = pc->get<uint64_t>();
      t->percent = std::max(t->percent, percent_of(text_in(status, "state"), within));
    }
  }
  if (last != 0) {
    const auto& l = status["last_recovery"];
    auto* t = find(target, last);
    if (!t && last > seen)
      t = &add(target, target_name, last, "", now);
    if (t) {
      auto ok =
        l.contains("succeeded") && l["succeeded"].is_boolean() && l["succeeded"].get<bool>();
      auto at = l.contains("finished_at") && l["finished_at"].is_number_integer()
                  ? l["finished_at"].get<int64_t>()
                  : now;
      finish(*t, ok, text_in(l, "detail"), at);
    }
  }
  // Recoveries before both that were seen running but not ending: another one has started
  // since, so they ended; how was not seen.
  auto newest = std::max(running, last);
  for (auto& t : tasks_)
    if (t.target == target && !t.finished() && t.number < newest) {
      t.end_time = now;
      t.state = "Completed";
      t.status = "Warning";
      t.messages.push_back({"TaskEvent.1.0.TaskCompletedWarning",
                            fmt::format("The task with Id '{}' has completed with warnings: its "
                                        "outcome was not seen before the next recovery began.",
                                        t.id),
                            {std::to_string(t.id)},
                            "Warning"});
    }
}

} // namespace fwrescue::redfish
