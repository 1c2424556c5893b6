#pragma once

namespace fwrescue {

/// Weights of the `scored` policy's terms ([policy.scored] in the config). Each is finite and
/// non-negative; 0 switches a term off. The formula is in docs/policies.md.
struct scoring_weights {
  /// A console's offer over a peer's.
  double role = 1.0;
  /// A higher svn.
  double svn = 1.0;
  /// A donor with a smaller share of its upload slots in use.
  double load = 1.0;
  /// A shorter estimated transfer time (round trip plus image size over link rate).
  double link = 1.0;
  /// Subtracted: recent failed transfers and bad blocks from the donor.
  double history = 1.0;

  friend bool operator==(const scoring_weights&, const scoring_weights&) = default;
};

} // namespace fwrescue
