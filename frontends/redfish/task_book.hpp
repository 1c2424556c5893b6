#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fwrescue::redfish {

/// One message of a task (DMTF Task registry style: TaskStarted, TaskCompletedOK, TaskAborted).
struct task_message {
  std::string id;
  std::string text;
  std::vector<std::string> args;
  std::string severity;
};

/// A recovery of one firmware target, as a Redfish task.
struct task_entry {
  uint64_t id = 0;
  uint32_t target = 0;
  std::string target_name;
  /// The coordinator's number of the recovery (status "recovery.number").
  uint64_t number = 0;
  std::string reason;
  /// "New", "Running", "Completed" or "Exception".
  std::string state = "New";
  /// "OK", "Warning" or "Critical".
  std::string status = "OK";
  uint32_t percent = 0;
  /// Seconds since the Unix epoch; end_time 0 while it runs.
  int64_t start_time = 0;
  int64_t end_time = 0;
  std::vector<task_message> messages;

  bool finished() const {
    return state == "Completed" || state == "Exception";
  }
};

/// The tasks the Redfish service shows: one per recovery of any target, whoever started it
/// (SimpleUpdate, the admin socket, the monitor). It learns of recoveries from the targets'
/// status (observe), which numbers them, so two recoveries are told apart even when one starts
/// and ends between two looks. At most `keep` tasks are kept; the oldest finished one goes
/// first. Not thread-safe: the server holds it under a lock.
class task_book {
public:
  explicit task_book(size_t keep) : keep_(keep) {
  }

  /// The task of recovery `number` of `target`, made when there is none yet (SimpleUpdate
  /// binds its task to the number the coordinator's answer names). Returns its id.
  uint64_t bind(uint32_t target, const std::string& target_name, uint64_t number,
                const std::string& reason, int64_t now);

  /// Brings the tasks of `target` up to date with its status JSON (docs/status.md): a
  /// recovery under way ("recovery") runs, the last one ("last_recovery") completed or
  /// failed, and one numbered before both whose end was not seen completed with a warning.
  void observe(uint32_t target, const std::string& target_name,
               const nlohmann::ordered_json& status, int64_t now);

  const task_entry* find(uint64_t id) const;

  const std::deque<task_entry>& tasks() const {
    return tasks_;
  }

private:
  task_entry* find(uint32_t target, uint64_t number);
  task_entry& add(uint32_t target, const std::string& target_name, uint64_t number,
                  const std::string& reason, int64_t now);
  void finish(task_entry& t, bool ok, const std::string& detail, int64_t at);

  size_t keep_;
  uint64_t next_id_ = 1;
  std::deque<task_entry> tasks_;
  /// Per target, the highest recovery number a task was made for: an older one is not made
  /// again once its task was dropped.
  std::vector<uint64_t> highest_;
};

/// PercentComplete for a recovery in `phase` ("discovering", … "verifying") with its progress
/// "percent" within the phase when it reports one.
uint32_t percent_of(const std::string& phase, std::optional<uint64_t> phase_percent);

} // namespace fwrescue::redfish
