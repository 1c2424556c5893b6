#include "metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fwrescue {

std::string clean_label_value(const std::string& value) {
  std::string out = value.substr(0, max_label_value_bytes);
  for (auto& c : out) {
    auto b = static_cast<unsigned char>(c);
    if ((b < 0x20 && b != '\n') || b >= 0x7f)
      c = '?';
  }
  return out;
}

metric_family::metric_family(std::string name, std::string help, std::vector<std::string> labels,
                             size_t max_series)
  : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)),
    max_series_(std::max<size_t>(max_series, 1)) {
}

std::vector<std::string> metric_family::key_of(const std::vector<std::string>& values) const {
  std::vector<std::string> key(labels_.size());
  // A caller passing too few values gets empty ones, too many are dropped: the series is still
  // rendered with every label the family declares.
  for (size_t i = 0; i < key.size() && i < values.size(); ++i)
    key[i] = clean_label_value(values[i]);
  return key;
}

family_snapshot metric_family::header(metric_type type) const {
  family_snapshot out;
  out.name = name_;
  out.help = help_;
  out.type = type;
  out.labels = labels_;
  return out;
}

counter_family::counter_family(std::string name, std::string help, std::vector<std::string> labels,
                               size_t max_series)
  : metric_family(std::move(name), std::move(help), std::move(labels), max_series) {
  // A family without labels has one series, shown as 0 before anything was counted.
  if (labels_.empty())
    series_[{}] = 0;
}

void counter_family::add(const std::vector<std::string>& values, uint64_t n) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto key = key_of(values);
  // Once full, a new label set joins the overflow series (one more than max_series_ at most).
  if (series_.count(key) == 0 && series_.size() >= max_series_)
    key.assign(labels_.size(), overflow_label_value);
  series_[key] += n;
}

family_snapshot counter_family::snapshot() const {
  auto out = header(metric_type::counter);
  std::lock_guard<std::mutex> guard{mutex_};
  for (const auto& [values, value] : series_) {
    series_snapshot s;
    s.values = values;
    s.value = value;
    out.series.push_back(std::move(s));
  }
  return out;
}

histogram_family::histogram_family(std::string name, std::string help,
                                   std::vector<std::string> labels, std::vector<double> bounds,
                                   size_t max_series)
  : metric_family(std::move(name), std::move(help), std::move(labels), max_series),
    bounds_(std::move(bounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i)
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
      throw std::invalid_argument("histogram " + name_
                                  + ": bucket bounds must be finite and strictly increasing");
  if (labels_.empty())
    series_[{}] = data{std::vector<uint64_t>(bounds_.size() + 1, 0)};
}

void histogram_family::observe(const std::vector<std::string>& values, double value) {
  if (std::isnan(value))
    return;
  // The first bucket whose bound is at least the value ("le"); past the last bound, +Inf.
  auto bucket =
    static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard<std::mutex> guard{mutex_};
  auto key = key_of(values);
  // Once full, a new label set joins the overflow series (one more than max_series_ at most).
  if (series_.count(key) == 0 && series_.size() >= max_series_)
    key.assign(labels_.size(), overflow_label_value);
  auto& d = series_[key];
  if (d.buckets.empty())
    d.buckets.assign(bounds_.size() + 1, 0);
  ++d.buckets[bucket];
  d.sum += value;
  ++d.count;
}

family_snapshot histogram_family::snapshot() const {
  auto out = header(metric_type::histogram);
  out.bounds = bounds_;
  std::lock_guard<std::mutex> guard{mutex_};
  for (const auto& [values, d] : series_) {
    series_snapshot s;
    s.values = values;
    s.buckets = d.buckets;
    s.sum = d.sum;
    s.count = d.count;
    out.series.push_back(std::move(s));
  }
  return out;
}

counter_family& metric_registry::counter(std::string name, std::string help,
                                         std::vector<std::string> labels, size_t max_series) {
  auto family = std::make_unique<counter_family>(std::move(name), std::move(help),
                                                 std::move(labels), max_series);
  auto& out = *family;
  std::lock_guard<std::mutex> guard{mutex_};
  families_.push_back(std::move(family));
  return out;
}

histogram_family& metric_registry::histogram(std::string name, std::string help,
                                             std::vector<std::string> labels,
                                             std::vector<double> bounds, size_t max_series) {
  auto family = std::make_unique<histogram_family>(
    std::move(name), std::move(help), std::move(labels), std::move(bounds), max_series);
  auto& out = *family;
  std::lock_guard<std::mutex> guard{mutex_};
  families_.push_back(std::move(family));
  return out;
}

void metric_registry::add_collector(collector fn) {
  std::lock_guard<std::mutex> guard{mutex_};
  collectors_.push_back(std::move(fn));
}

std::vector<family_snapshot> metric_registry::collect() const {
  std::vector<const metric_family*> families;
  std::vector<collector> collectors;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    for (const auto& f : families_)
      families.push_back(f.get());
    collectors = collectors_;
  }
  // Collectors take their sources' locks: they run without the registry's, so a collector
  // that is slow (a transport busy under its own lock) holds up only this scrape.
  std::vector<family_snapshot> out;
  for (const auto* f : families)
    out.push_back(f->snapshot());
  for (const auto& c : collectors)
    c(out);
  return out;
}

} // namespace fwrescue
