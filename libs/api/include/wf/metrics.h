// Prometheus text exposition for GET /metrics.
//
// HttpMetrics counts API answers and their latency by route template and status in
// process (cumulative, as Prometheus expects). The rest is read when scraped: requests by
// template and status, queue depth and the age of the oldest pending request, leases by
// engine (PostgreSQL), and each live engine's counters (Redis presence). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "wf/core/histogram.h"
#include "wf/core/json_path.h"
#include "wf/core/status.h"
#include "wf/request_store.h"

namespace wf {

class HttpMetrics {
 public:
  // Records one answer. `path` is the concrete path; ids and names become {id}/{name}.
  void Observe(const std::string& method, const std::string& path, int status, double seconds);
  void Render(std::string* out) const;

  // "/v1/requests/6f1c…/cancel" -> "/v1/requests/{id}/cancel".
  static std::string RouteOf(const std::string& path);

 private:
  HistogramFamily latency_{LatencyBounds()};  // label: method \t route
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> answers_;  // key: method \t route \t status
};

// Appends the store gauges and the engines' presence counters.
void RenderStoreGauges(const StoreGauges& g, std::string* out);
void RenderEngines(const std::vector<json>& presence, std::string* out);
// Each live service's log shipping counters (the "log_shipping" of its presence record).
void RenderLogShipping(const std::vector<json>& presence, std::string* out);

}  // namespace wf
