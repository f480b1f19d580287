#include "wf/metrics.h"

#include <regex>

namespace wf {
namespace {

const double kBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

// Label values: backslash, double quote and newline escaped.
std::string Esc(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string Num(double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

std::string HttpMetrics::RouteOf(const std::string& path) {
  static const std::regex kId(
      "/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  static const std::regex kTask("/tasks/[^/]+/");
  static const std::regex kTemplate("^/v1/templates/(?!validate$)[^/]+$");
  std::string r = std::regex_replace(path, kId, "/{id}");
  r = std::regex_replace(r, kTask, "/tasks/{task_id}/");
  if (std::regex_match(r, kTemplate)) r = "/v1/templates/{name}";
  if (r.rfind("/v1/requests/", 0) == 0 && r.find("{id}") == std::string::npos) {
    r = "/v1/requests/{invalid}";  // keeps bad ids from making a label per path
  }
  return r;
}

void HttpMetrics::Observe(const std::string& method, const std::string& path, int status,
                          double seconds) {
  const std::string route = RouteOf(path);
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = latency_[method + "\t" + route];
  if (s.buckets.empty()) s.buckets.assign(std::size(kBuckets), 0);
  for (size_t i = 0; i < std::size(kBuckets); ++i) {
    if (seconds <= kBuckets[i]) s.buckets[i]++;
  }
  s.count++;
  s.sum += seconds;
  answers_[method + "\t" + route + "\t" + std::to_string(status)]++;
}

void HttpMetrics::Render(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  *out += "# HELP wf_http_request_duration_seconds API answer latency by route.\n";
  *out += "# TYPE wf_http_request_duration_seconds histogram\n";
  for (const auto& [key, s] : latency_) {
    auto tab = key.find('\t');
    std::string labels =
        "method=\"" + Esc(key.substr(0, tab)) + "\",route=\"" + Esc(key.substr(tab + 1)) + "\"";
    for (size_t i = 0; i < std::size(kBuckets); ++i) {
      *out += "wf_http_request_duration_seconds_bucket{" + labels + ",le=\"" + Num(kBuckets[i]) +
              "\"} " + std::to_string(s.buckets[i]) + "\n";
    }
    *out += "wf_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
            std::to_string(s.count) + "\n";
    *out += "wf_http_request_duration_seconds_sum{" + labels + "} " + Num(s.sum) + "\n";
    *out +=
        "wf_http_request_duration_seconds_count{" + labels + "} " + std::to_string(s.count) + "\n";
  }
  *out += "# HELP wf_http_responses_total API answers by route and status code.\n";
  *out += "# TYPE wf_http_responses_total counter\n";
  for (const auto& [key, n] : answers_) {
    auto a = key.find('\t'), b = key.find('\t', a + 1);
    *out += "wf_http_responses_total{method=\"" + Esc(key.substr(0, a)) + "\",route=\"" +
            Esc(key.substr(a + 1, b - a - 1)) + "\",code=\"" + key.substr(b + 1) + "\"} " +
            std::to_string(n) + "\n";
  }
}

void RenderStoreGauges(const StoreGauges& g, std::string* out) {
  *out += "# HELP wf_requests Requests by template and status.\n# TYPE wf_requests gauge\n";
  for (const auto& [k, n] : g.by_template_status) {
    *out += "wf_requests{template=\"" + Esc(k.first) + "\",status=\"" + Esc(k.second) + "\"} " +
            std::to_string(n) + "\n";
  }
  *out += "# HELP wf_queue_depth Requests waiting to be claimed.\n# TYPE wf_queue_depth gauge\n";
  *out += "wf_queue_depth " + std::to_string(g.pending) + "\n";
  *out += "# HELP wf_queue_oldest_age_seconds Age of the oldest request waiting to be claimed.\n";
  *out += "# TYPE wf_queue_oldest_age_seconds gauge\n";
  *out += "wf_queue_oldest_age_seconds " + Num(g.oldest_pending_age_s) + "\n";
  *out += "# HELP wf_engine_leases Requests each engine holds a lease on.\n";
  *out += "# TYPE wf_engine_leases gauge\n";
  for (const auto& [engine, n] : g.leases_by_engine) {
    *out += "wf_engine_leases{engine=\"" + Esc(engine) + "\"} " + std::to_string(n) + "\n";
  }
}

void RenderEngines(const std::vector<json>& presence, std::string* out) {
  static const std::pair<const char*, const char*> kFields[] = {
      {"requests", "gauge"},         {"running_tasks", "gauge"},  {"claimed", "counter"},
      {"finished", "counter"},       {"tasks_run", "counter"},    {"lost_leases", "counter"},
      {"commit_batches", "counter"}, {"commit_writes", "counter"}};
  for (const auto& [field, type] : kFields) {
    std::string name =
        std::string("wf_engine_") + field + (std::string(type) == "counter" ? "_total" : "");
    *out += "# HELP " + name + " Reported by each live engine (presence).\n";
    *out += "# TYPE " + name + " " + type + "\n";
    for (const auto& p : presence) {
      if (p.value("kind", "") != "engine" || !p.contains(field) || !p[field].is_number()) continue;
      *out += name + "{engine=\"" + Esc(p.value("id", "")) + "\"} " + Num(p[field].get<double>()) +
              "\n";
    }
  }
}

void RenderLogShipping(const std::vector<json>& presence, std::string* out) {
  static const struct {
    const char* field;
    const char* name;
    const char* type;
    const char* help;
  } kFields[] = {
      {"queued", "wf_log_lines_queued", "gauge", "Log lines waiting to be shipped to syslog."},
      {"sent", "wf_log_lines_sent_total", "counter", "Log lines shipped to syslog."},
      {"dropped", "wf_log_lines_dropped_total", "counter",
       "Log lines lost: shipping queue full, too long, or unsent at exit."},
      {"reconnects", "wf_log_reconnects_total", "counter",
       "Connections to the syslog receiver made after the first."},
      {"connected", "wf_log_shipper_connected", "gauge",
       "Whether the log shipper holds a connection to the syslog receiver."}};
  for (const auto& f : kFields) {
    *out += std::string("# HELP ") + f.name + " " + f.help + " Per live service (presence).\n";
    *out += std::string("# TYPE ") + f.name + " " + f.type + "\n";
    for (const auto& p : presence) {
      auto it = p.find("log_shipping");
      if (it == p.end() || !it->is_object() || !it->contains(f.field)) continue;
      const json& v = (*it)[f.field];
      double n = v.is_boolean() ? (v.get<bool>() ? 1 : 0) : v.is_number() ? v.get<double>() : 0;
      *out += std::string(f.name) + "{service=\"" + Esc(p.value("kind", "")) + "\",id=\"" +
              Esc(p.value("id", "")) + "\"} " + Num(n) + "\n";
    }
  }
}

}  // namespace wf
