#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "common/progress_meter.hpp"
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

/// Whether a recovery is under way in phase `p`.
inline bool recovering(recovery_phase p) {
  return p != recovery_phase::idle && p != recovery_phase::done && p != recovery_phase::failed;
}

/// How the last recovery ended.
struct recovery_outcome {
  bool succeeded = false;
  /// coordinator_state::recoveries when it started.
  uint64_t number = 0;
  std::string donor;
  /// The source that served the image ("peers", "local", ...).
  std::string source;
  std::string version;
  uint64_t duration_ms = 0;
  std::string detail;
  /// Seconds since the Unix epoch.
  int64_t finished_at = 0;
};

using retry_atom = caf::atom_constant<caf::atom("retry")>;
using reflash_atom = caf::atom_constant<caf::atom("reflash")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
/// Media watcher -> coordinator: removable media may have come or gone.
using media_changed_atom = caf::atom_constant<caf::atom("media")>;

struct coordinator_state {
  context_ptr ctx;
  /// A fresh request the transfer asked for while pulling (more_donors): its id, and the job.
  uint64_t more_request = 0;
  uint64_t more_job = 0;
  recovery_phase phase = recovery_phase::idle;
  bool safe_hold = false;
  /// Recoveries started since the daemon started; the current (or last) one's number. Status
  /// shows it so that an interface can tell two recoveries apart even when one began and
  /// ended between two of its looks.
  uint64_t recoveries = 0;
  /// Set for a recovery an operator asked to take from one named image
  /// (recover_from_location): its attempt tries that location only, once.
  std::shared_ptr<image_location> only_from;
  uint32_t attempt = 0;
  /// Waited in this recovery for donors that were all busy (recovery.busy_wait_s bounds it);
  /// the retry timer set for such a wait does not start a new attempt.
  std::chrono::milliseconds busy_waited{0};
  bool busy_retry = false;
  /// Bumped per recovery so a late retry timer of an earlier one is ignored.
  uint64_t generation = 0;
  /// The job in flight (a transfer or a flash) and the actor doing it, which the coordinator
  /// watches: should it die, the job fails and the recovery goes on from the journal. Reports
  /// about any other job number are late and ignored.
  uint64_t job = 0;
  caf::actor_addr worker;
  /// Flashes tried from the staged image in this recovery; a failed flash is tried again from
  /// it (recovery.flash_retries times) before the network is asked again.
  uint32_t flashes = 0;
  /// The current phase fails the attempt when nothing moves it on by then; one timer at a time
  /// watches it.
  std::chrono::steady_clock::time_point deadline{};
  bool deadline_timer = false;
  std::string reason;
  std::chrono::steady_clock::time_point started;
  image_request request;
  std::string donor;
  uint64_t progress_done = 0;
  uint64_t progress_total = 0;
  /// The current phase's bytes and rate, for status.
  progress_meter meter;
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
  /// recovery.sources' entry the attempt is at.
  size_t source = 0;
  /// How each source tried in the current (or last) attempt fared: why it had no image, or that
  /// it served one.
  struct source_result {
    std::string source;
    std::string result;
    bool served = false;
  };
  std::vector<source_result> sources_tried;
  /// The location fetch in flight, which the coordinator stops by this flag when it gives the
  /// job up.
  std::shared_ptr<std::atomic<bool>> fetch_cancel;
  std::string failure;
  /// A boot failed: what the console showed, until the flash check it asked for says what to do.
  std::optional<std::string> boot_failure;

  static inline const char* name = "coordinator";
};

/// Drives recoveries: starts one when the monitor reports bad blocks (with monitor.auto_recover)
/// or an operator asks, resumes one recorded in the journal at start, and answers `status` with
/// a JSON object. A flash the monitor cannot read, or whose image cannot fit it, starts no
/// recovery: no donor can mend either, and status says which. Every phase has a deadline
/// (recovery.stall_timeout_s without progress), and the actor doing a job is watched, so a
/// recovery ends however its parts fail.
caf::behavior coordinator(caf::stateful_actor<coordinator_state>* self, context_ptr ctx);

/// How long a dropped donor counts against it in negotiations.
constexpr auto donor_memory = std::chrono::hours(1);

/// The donors dropped within donor_memory before `now`, counted per donor.
donor_history recent_history(const coordinator_state& st,
                             std::chrono::steady_clock::time_point now);

/// Records that a donor was dropped (and whether for a bad block), for recent_history().
void remember_dropped(caf::stateful_actor<coordinator_state>* self, const donor_dropped& d);

/// The status a `status` request answers, as one JSON object (also for tests).
std::string status_json(const coordinator_state& st);

} // namespace fwrescue
