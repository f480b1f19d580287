#include "wf/metrics.h"

#include <regex>

#include "wf/core/histogram.h"

namespace wf {
namespace {

std::string Esc(const std::string& v) { return PromEscape(v); }
std::string Num(double v) { return PromNumber(v); }

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
  latency_.Observe(method + "\t" + route, seconds);
  std::lock_guard<std::mutex> lock(mu_);
  answers_[method + "\t" + route + "\t" + std::to_string(status)]++;
}

void HttpMetrics::Render(std::string* out) const {
  *out += "# HELP wf_http_request_duration_seconds API answer latency by route.\n";
  *out += "# TYPE wf_http_request_duration_seconds histogram\n";
  const json latency = latency_.ToJson();
  for (const auto& [key, s] : latency.items()) {
    auto tab = key.find('\t');
    std::string labels =
        "method=\"" + Esc(key.substr(0, tab)) + "\",route=\"" + Esc(key.substr(tab + 1)) + "\"";
    AppendHistogram("wf_http_request_duration_seconds", labels,
                    s["bounds"].get<std::vector<double>>(),
                    s["buckets"].get<std::vector<uint64_t>>(), s["count"].get<uint64_t>(),
                    s["sum"].get<double>(), out);
  }
  std::lock_guard<std::mutex> lock(mu_);
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
  // Histograms each engine keeps in process: {"histograms": {name: {label value: series}}}.
  static const struct {
    const char* field;
    const char* name;
    const char* label;
    const char* help;
  } kHistograms[] = {
      {"task_duration_seconds", "wf_task_duration_seconds", "type",
       "Duration of task invocations by task type."},
      {"task_attempts", "wf_task_attempts", "type",
       "Attempts a task took until it succeeded or failed for good, by task type."},
      {"claim_latency_seconds", "wf_claim_latency_seconds", "",
       "Time from submission to the first claim of a request."},
  };
  for (const auto& h : kHistograms) {
    *out += std::string("# HELP ") + h.name + " " + h.help + "\n";
    *out += std::string("# TYPE ") + h.name + " histogram\n";
    for (const auto& p : presence) {
      if (p.value("kind", "") != "engine") continue;
      const json* family = nullptr;
      if (auto it = p.find("histograms"); it != p.end() && it->is_object()) {
        if (auto f = it->find(h.field); f != it->end() && f->is_object()) family = &*f;
      }
      if (!family) continue;
      for (const auto& [value, series] : family->items()) {
        try {
          std::string labels = "engine=\"" + Esc(p.value("id", "")) + "\"";
          if (*h.label) labels += std::string(",") + h.label + "=\"" + Esc(value) + "\"";
          AppendHistogram(h.name, labels, series.at("bounds").get<std::vector<double>>(),
                          series.at("buckets").get<std::vector<uint64_t>>(),
                          series.at("count").get<uint64_t>(), series.at("sum").get<double>(), out);
        } catch (const std::exception&) {
          // A presence record from another version: skip the series rather than the scrape.
        }
      }
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
