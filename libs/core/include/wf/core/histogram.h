// Cumulative histograms in the Prometheus sense, kept in process and shipped as JSON (an
// engine publishes its histograms in its Redis presence record; the API renders them).
//
//   {"bounds": [0.001, ...], "buckets": [n <= bound, ...], "count": n, "sum": s}
//
// HistogramFamily keeps one histogram per label value (a task type). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "wf/core/json_path.h"

namespace wf {

// Latency bounds in seconds, 1 ms .. 5 min.
const std::vector<double>& LatencyBounds();
// Small counts (attempts): 1, 2, 3, 5, 10, 20, 50.
const std::vector<double>& CountBounds();

class HistogramFamily {
 public:
  explicit HistogramFamily(const std::vector<double>& bounds) : bounds_(bounds) {}
  void Observe(const std::string& label, double value);
  // {label: {"bounds", "buckets", "count", "sum"}}
  json ToJson() const;

 private:
  struct Series {
    std::vector<uint64_t> buckets;
    uint64_t count = 0;
    double sum = 0;
  };
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<std::string, Series> series_;
};

// Appends the Prometheus lines (_bucket per bound and +Inf, _sum, _count) of one series.
// `labels` is the label list without braces (`engine="e1",type="http"`), may be empty.
void AppendHistogram(const std::string& name, const std::string& labels,
                     const std::vector<double>& bounds, const std::vector<uint64_t>& buckets,
                     uint64_t count, double sum, std::string* out);

// Prometheus label value: backslash, double quote and newline escaped.
std::string PromEscape(const std::string& value);
// A number as Prometheus prints it.
std::string PromNumber(double value);

}  // namespace wf
