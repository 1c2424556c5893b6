#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "messages/node_events.hpp"

namespace fwrescue {

/// The recovery state machine. Every recovery walks
/// idle → discovering → negotiating → transferring → staged → flashing → verifying → done,
/// and any step may end in failed; a failed attempt is retried with backoff (a fresh discovery,
/// so the next source gets its turn) up to recovery.max_attempts.
enum class recovery_phase : uint8_t {
  idle,
  discovering,
  negotiating,
  transferring,
  staged,
  flashing,
  verifying,
  done,
  failed,
};

const char* to_string(recovery_phase p);

/// How the last recovery ended.
struct recovery_outcome {
  bool succeeded = false;
  std::string donor;
  std::string version;
  uint64_t duration_ms = 0;
  std::string detail;
  /// Seconds since the Unix epoch.
  int64_t finished_at = 0;
};

using retry_atom = caf::atom_constant<caf::atom("retry")>;

struct coordinator_state {
  context_ptr ctx;
  recovery_phase phase = recovery_phase::idle;
  bool safe_hold = false;
  uint32_t attempt = 0;
  /// Bumped per recovery so a late retry timer of an earlier one is ignored.
  uint64_t generation = 0;
  std::string reason;
  std::chrono::steady_clock::time_point started;
  image_request request;
  std::string donor;
  uint64_t progress_done = 0;
  uint64_t progress_total = 0;
  flash_report last_check;
  /// The monitor's report that started this recovery, if one did: the first attempt's transfer
  /// takes the blocks it found good as present on the flash without hashing them again.
  std::optional<flash_report> trigger;
  std::optional<negotiation_result> last_negotiation;
  /// When each donor was dropped, and whether for a bad block; the basis of donor_history.
  struct donor_mark {
    std::chrono::steady_clock::time_point at;
    bool bad_block = false;
  };
  std::map<std::string, std::vector<donor_mark>> donor_marks;
  std::optional<recovery_outcome> last;
  std::string failure;

  static inline const char* name = "coordinator";
};

/// Drives recoveries: starts one when the monitor reports a bad flash (with
/// monitor.auto_recover) or an operator asks, resumes one recorded in the journal at start, and
/// answers `status` with a JSON object.
caf::behavior coordinator(caf::stateful_actor<coordinator_state>* self, context_ptr ctx);

/// How long a dropped donor counts against it in negotiations.
constexpr auto donor_memory = std::chrono::hours(1);

/// The donors dropped within donor_memory before `now`, counted per donor.
donor_history recent_history(const coordinator_state& st,
                             std::chrono::steady_clock::time_point now);

/// The status a `status` request answers, as one JSON object (also for tests).
std::string status_json(const coordinator_state& st);

} // namespace fwrescue
