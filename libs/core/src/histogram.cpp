#include "wf/core/histogram.h"

#include <cstdio>

namespace wf {

const std::vector<double>& LatencyBounds() {
  static const std::vector<double> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,      2.5,   5,    10,    30,   60,  300};
  return kBounds;
}

const std::vector<double>& CountBounds() {
  static const std::vector<double> kBounds = {1, 2, 3, 5, 10, 20, 50};
  return kBounds;
}

void HistogramFamily::Observe(const std::string& label, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series_[label];
  if (s.buckets.empty()) s.buckets.assign(bounds_.size(), 0);
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) s.buckets[i]++;
  }
  s.count++;
  s.sum += value;
}

json HistogramFamily::ToJson() const {
  json out = json::object();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [label, s] : series_) {
    out[label] = {{"bounds", bounds_}, {"buckets", s.buckets}, {"count", s.count}, {"sum", s.sum}};
  }
  return out;
}

std::string PromEscape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string PromNumber(double value) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

void AppendHistogram(const std::string& name, const std::string& labels,
                     const std::vector<double>& bounds, const std::vector<uint64_t>& buckets,
                     uint64_t count, double sum, std::string* out) {
  const std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < bounds.size() && i < buckets.size(); ++i) {
    *out += name + "_bucket{" + labels + sep + "le=\"" + PromNumber(bounds[i]) + "\"} " +
            std::to_string(buckets[i]) + "\n";
  }
  *out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(count) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out += name + "_sum" + braces + " " + PromNumber(sum) + "\n";
  *out += name + "_count" + braces + " " + std::to_string(count) + "\n";
}

}  // namespace wf
