// scored: a weighted sum over role, svn, load, link speed and donor history, for operators who
// want to balance these rather than pick one. The weights come from [policy.scored]; the
// formula is documented in docs/policies.md and must stay in step with it.
#include <algorithm>
#include <cmath>

#include "policies/selection.hpp"

namespace fwrescue::policies {

namespace {

/// A weight the formula can use: the config parser only lets finite non-negative ones through,
/// but a NaN reaching the sort would break its ordering, so anything else counts as 0.
double usable(double w) {
  return std::isfinite(w) && w > 0 ? w : 0.0;
}

/// (x - worst) / (best - worst): 1 for the best offer at hand, 0 for the worst, and 1 for
/// everyone when all are equal (then the term cannot tell them apart).
double relative(double x, double worst, double best) {
  return best == worst ? 1.0 : (x - worst) / (best - worst);
}

struct range {
  double lo = 0;
  double hi = 0;
  bool any = false;

  void add(double x) {
    lo = any ? std::min(lo, x) : x;
    hi = any ? std::max(hi, x) : x;
    any = true;
  }
};

} // namespace

std::vector<double> scores(std::span<const offer_facts> offers, const scoring_weights& weights) {
  range svn, load, time, history;
  for (const auto& o : offers) {
    svn.add(o.svn);
    load.add(load_share(o));
    if (auto t = estimated_time_us(o))
      time.add(*t);
    history.add(static_cast<double>(o.recent_failures) + o.recent_bad_blocks);
  }
  std::vector<double> out;
  out.reserve(offers.size());
  for (const auto& o : offers) {
    double role_term = o.role == node_role::console ? 1.0 : 0.0;
    double svn_term = relative(o.svn, svn.lo, svn.hi);
    double load_term = relative(load_share(o), load.hi, load.lo);
    auto t = estimated_time_us(o);
    double link_term = t ? relative(*t, time.hi, time.lo) : 0.0;
    double bad = static_cast<double>(o.recent_failures) + o.recent_bad_blocks;
    double history_term = history.hi > 0 ? bad / history.hi : 0.0;
    out.push_back(usable(weights.role) * role_term + usable(weights.svn) * svn_term
                  + usable(weights.load) * load_term + usable(weights.link) * link_term
                  - usable(weights.history) * history_term);
  }
  return out;
}

std::vector<size_t> scored(std::span<const offer_facts> offers, const scoring_weights& weights) {
  auto score = scores(offers, weights);
  return order_by_index(offers, [&](size_t i, size_t j) { return score[i] > score[j]; });
}

} // namespace fwrescue::policies
