#include "wf/log_metrics.h"

namespace wf {
namespace {

void Metric(std::string* out, const char* name, const char* type, const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void Value(std::string* out, const std::string& series, const std::atomic<uint64_t>& v) {
  *out += series + " " + std::to_string(v.load(std::memory_order_relaxed)) + "\n";
}

}  // namespace

std::string LogMetrics::Render() const {
  std::string out;
  Metric(&out, "wf_syslog_received_total", "counter", "Syslog messages received.");
  Value(&out, "wf_syslog_received_total{transport=\"udp\"}", received_udp);
  Value(&out, "wf_syslog_received_total{transport=\"tcp\"}", received_tcp);
  Metric(&out, "wf_syslog_received_bytes_total", "counter", "Bytes of syslog messages received.");
  Value(&out, "wf_syslog_received_bytes_total{transport=\"udp\"}", bytes_udp);
  Value(&out, "wf_syslog_received_bytes_total{transport=\"tcp\"}", bytes_tcp);
  Metric(&out, "wf_syslog_stored_total", "counter", "Log lines written to the store.");
  Value(&out, "wf_syslog_stored_total", stored);
  Metric(&out, "wf_syslog_dropped_total", "counter", "Messages dropped, by reason.");
  Value(&out, "wf_syslog_dropped_total{reason=\"parse\"}", dropped_parse);
  Value(&out, "wf_syslog_dropped_total{reason=\"oversize\"}", dropped_oversize);
  Value(&out, "wf_syslog_dropped_total{reason=\"frame\"}", dropped_frame);
  Value(&out, "wf_syslog_dropped_total{reason=\"truncated\"}", dropped_truncated);
  Value(&out, "wf_syslog_dropped_total{reason=\"connections\"}", dropped_connections);
  Value(&out, "wf_syslog_dropped_total{reason=\"sealed\"}", dropped_sealed);
  Value(&out, "wf_syslog_dropped_total{reason=\"bad_id\"}", dropped_bad_id);
  Value(&out, "wf_syslog_dropped_total{reason=\"io\"}", dropped_io);
  Value(&out, "wf_syslog_dropped_total{reason=\"forward\"}", dropped_forward);
  Metric(&out, "wf_syslog_sealed_total", "counter", "Request logs sealed.");
  Value(&out, "wf_syslog_sealed_total", sealed);
  Metric(&out, "wf_syslog_forwarded_total", "counter", "Messages sent to the upstream syslog.");
  Value(&out, "wf_syslog_forwarded_total", forwarded);
  Metric(&out, "wf_syslog_tcp_connections", "gauge", "TCP connections open.");
  Value(&out, "wf_syslog_tcp_connections", connections);
  Metric(&out, "wf_syslog_follow_streams", "gauge", "follow=1 log streams open.");
  out +=
      "wf_syslog_follow_streams " + std::to_string(follows.load(std::memory_order_relaxed)) + "\n";
  Metric(&out, "wf_syslog_retention_deleted_total", "counter",
         "Sealed request logs deleted by retention.");
  Value(&out, "wf_syslog_retention_deleted_total", retention_deleted);
  Metric(&out, "wf_syslog_retention_deleted_bytes_total", "counter",
         "Bytes of request logs deleted by retention.");
  Value(&out, "wf_syslog_retention_deleted_bytes_total", retention_deleted_bytes);
  return out;
}

}  // namespace wf
