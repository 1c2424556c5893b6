#pragma once

// Counters and histograms with label sets, bumped by actors on any thread and read at scrape
// time as plain snapshots (metrics/exposition renders those as Prometheus text).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fwrescue {

enum class metric_type { counter, histogram };

/// One series of a family at scrape time.
struct series_snapshot {
  /// In the order of the family's label names.
  std::vector<std::string> values;
  /// A counter's value.
  uint64_t value = 0;
  /// A histogram's observations per bucket (not cumulative): one per bound, then the +Inf one.
  std::vector<uint64_t> buckets;
  double sum = 0;
  uint64_t count = 0;
};

/// One metric family at scrape time: what a registry's family or a collector hands the renderer.
struct family_snapshot {
  std::string name;
  std::string help;
  metric_type type = metric_type::counter;
  std::vector<std::string> labels;
  /// A histogram's upper bucket bounds, increasing, without +Inf.
  std::vector<double> bounds;
  std::vector<series_snapshot> series;
};

/// Series a family holds unless told otherwise. Label values may come from peers (a donor's
/// id): a forged id per block would otherwise grow the family without end.
constexpr size_t default_max_series = 64;

/// Longest label value kept; longer ones are cut.
constexpr size_t max_label_value_bytes = 128;

/// The value every label of the overflow series carries once a family is full.
constexpr const char* overflow_label_value = "other";

/// A label value as a family keeps it: cut to max_label_value_bytes, and every byte that is
/// a control character other than newline or not ASCII replaced by '?', so that the rendered
/// text stays valid UTF-8 on one line whatever a peer sent (newline, `"` and `\` are escaped
/// by the renderer).
std::string clean_label_value(const std::string& value);

/// What counter and histogram families share: their name, help, label names and the bound on
/// their series. Thread-safe; one mutex per family, held for a map lookup and an add.
class metric_family {
public:
  metric_family(std::string name, std::string help, std::vector<std::string> labels,
                size_t max_series);
  virtual ~metric_family() = default;
  metric_family(const metric_family&) = delete;
  metric_family& operator=(const metric_family&) = delete;

  const std::string& name() const {
    return name_;
  }

  virtual family_snapshot snapshot() const = 0;

protected:
  /// `values` as a series key: one cleaned value per label name (missing ones empty, extra ones
  /// dropped).
  std::vector<std::string> key_of(const std::vector<std::string>& values) const;

  family_snapshot header(metric_type type) const;

  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  size_t max_series_;
  mutable std::mutex mutex_;
};

/// A family of counters: values that only go up.
class counter_family : public metric_family {
public:
  counter_family(std::string name, std::string help, std::vector<std::string> labels,
                 size_t max_series = default_max_series);

  /// Adds `n` to the series of `values` (one value per label name, in order).
  void add(const std::vector<std::string>& values, uint64_t n = 1);

  family_snapshot snapshot() const override;

private:
  std::map<std::vector<std::string>, uint64_t> series_;
};

/// A family of histograms with the same bucket bounds.
class histogram_family : public metric_family {
public:
  /// `bounds` must be finite and strictly increasing (checked: std::invalid_argument).
  histogram_family(std::string name, std::string help, std::vector<std::string> labels,
                   std::vector<double> bounds, size_t max_series = default_max_series);

  /// Records `value` in the series of `values`; NaN is ignored.
  void observe(const std::vector<std::string>& values, double value);

  family_snapshot snapshot() const override;

private:
  struct data {
    std::vector<uint64_t> buckets;
    double sum = 0;
    uint64_t count = 0;
  };
  std::vector<double> bounds_;
  std::map<std::vector<std::string>, data> series_;
};

/// The node's metric families, and collectors that produce more at scrape time from counts
/// kept elsewhere (the transports' refusals, the flash's operations), so nothing is counted
/// twice. A node has one, shared by every target's actors; tests make their own.
class metric_registry {
public:
  using collector = std::function<void(std::vector<family_snapshot>&)>;

  counter_family& counter(std::string name, std::string help, std::vector<std::string> labels,
                          size_t max_series = default_max_series);
  histogram_family& histogram(std::string name, std::string help, std::vector<std::string> labels,
                              std::vector<double> bounds, size_t max_series = default_max_series);

  /// `fn` runs at every scrape, on the scraping thread, and appends its families.
  void add_collector(collector fn);

  /// Every family, the registry's in the order they were made, then the collectors'.
  std::vector<family_snapshot> collect() const;

private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<metric_family>> families_;
  std::vector<collector> collectors_;
};

} // namespace fwrescue
