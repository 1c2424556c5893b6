#pragma once

// Who may answer a fleet query under which name (docs/fleet.md, "Identity"). Pure rules over
// value types, apart from the pin file's reading and atomic writing, so that a table of cases
// tests them.

#include <map>
#include <string>
#include <vector>

#include <caf/error.hpp>

#include "image/keys.hpp"
#include "messages/protocol.hpp"

namespace fwrescue {

/// Node id -> node key, learnt from the first answer that verified under it, and kept in the
/// state directory across restarts: a later answer naming the same node under another key is an
/// impostor's (or a re-keyed node's, which an operator confirms by deleting the pin file).
class fleet_pins {
public:
  /// Pins remembered at most; past that, new nodes are listed but not pinned.
  static constexpr size_t max_pins = 1024;

  /// `path` empty: nothing is read or written (tests).
  explicit fleet_pins(std::string path = {});

  /// Reads the pin file; a missing file is no pins. A malformed file is an error naming the line.
  caf::error load();
  /// Writes the pins atomically (a reader sees the old file or the whole new one).
  caf::error save();

  /// The key pinned for `node`, or nullptr.
  const public_key* find(const std::string& node) const;
  /// Pins `key` for `node` unless `node` already has a pin or the file is full; true when
  /// `node` is now pinned to `key`.
  bool learn(const std::string& node, const public_key& key);

  size_t size() const {
    return pins_.size();
  }
  /// Pins learnt since the last load or save.
  bool changed() const {
    return changed_;
  }

private:
  std::string path_;
  std::map<std::string, public_key> pins_;
  bool changed_ = false;
};

/// What this node knows when it judges an answer.
struct fleet_judge {
  const fleet_query_fields& query;
  /// This node's id: no other node may answer under it.
  const std::string& self;
  const std::vector<public_key>& console_keys;
  const fleet_pins& pins;
  /// Node ids already listed from this query, with the keys they answered under.
  const std::map<std::string, public_key>& kept;
};

enum class fleet_verdict {
  /// Listed.
  keep,
  /// Does not answer this query (another query's, or a replay): ignored quietly.
  stale,
  /// The same node under the same key again: listed once.
  duplicate,
  /// Listed nowhere; the reason is logged and shown to the operator.
  drop,
};

struct fleet_judgement {
  fleet_verdict verdict = fleet_verdict::keep;
  std::string why;
};

/// Judges one answer: its echo of the query, its signature under the key it carries, and
/// whether its node id may be claimed with that key (this node's id, the console role, pins,
/// and answers already kept from this query).
fleet_judgement judge_answer(const fleet_answer& a, const fleet_judge& j);

/// "3f2a9c0d1e2b4a5c": a key's id, for log lines.
std::string key_text(const public_key& key);

} // namespace fwrescue
