#include "wf/log_shipping.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>

#include "wf/logging.h"
#include "wf/syslog.h"
#include "wf/syslog_forwarder.h"

namespace wf {
namespace {

int Severity(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
      return 2;
    case spdlog::level::err:
      return 3;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::info:
      return 6;
    default:
      return 7;
  }
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros % 1000000));
  return buf;
}

SyslogMessage Base(const std::string& app, const std::string& host) {
  SyslogMessage m;
  m.facility = 1;  // user
  m.version = 1;
  m.hostname = host;
  m.app_name = app;
  m.proc_id = std::to_string(::getpid());
  return m;
}

void AddIds(SyslogMessage* m, const std::string& trace, const std::string& request,
            const std::string& task) {
  if (trace.empty() && request.empty()) return;
  SyslogMessage::SdParams params = {{"trace_id", trace}, {"request_id", request}};
  if (!task.empty()) params.emplace_back("task_id", task);
  m->structured_data.emplace_back(std::string(kSyslogSdId), std::move(params));
}

class ShippingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ShippingSink(std::unique_ptr<SyslogForwarder> forwarder, std::string app)
      : forwarder_(std::move(forwarder)), app_(std::move(app)) {
    char buf[256] = {0};
    ::gethostname(buf, sizeof buf - 1);
    host_ = buf;
  }

  SyslogForwarder& forwarder() { return *forwarder_; }

  void Seal(const std::string& trace, const std::string& request) {
    SyslogMessage m = Base(app_, host_);
    m.severity = 6;
    m.timestamp = Rfc3339(std::chrono::system_clock::now());
    m.msg_id = "seal";
    AddIds(&m, trace, request, "");
    m.message = "request log complete";
    std::lock_guard<std::mutex> lock(mutex_);  // one order for lines and seals
    forwarder_->Enqueue(FormatSyslog5424(m));
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (SyslogForwarder::OnSenderThread()) return;  // its own connection warnings
    SyslogMessage m = Base(app_, host_);
    m.severity = Severity(msg.level);
    m.timestamp = Rfc3339(msg.time);
    const LogIds& ids = CurrentLogIds();
    AddIds(&m, ids.trace_id, ids.request_id, ids.task_id);
    m.message.assign(msg.payload.data(), msg.payload.size());
    forwarder_->Enqueue(FormatSyslog5424(m));
  }
  void flush_() override {}

 private:
  std::unique_ptr<SyslogForwarder> forwarder_;
  std::string app_;
  std::string host_;
};

std::mutex g_mu;
std::shared_ptr<ShippingSink> g_sink;

}  // namespace

Status StartLogShipping(const std::string& url, const std::string& app_name, size_t max_queue) {
  auto target = ParseForwardUrl(url, "log_syslog_url");
  if (!target.ok()) return target.status();
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_sink) return Status::Invalid("log_syslog_url: log shipping is already started");
  auto forwarder = std::make_unique<SyslogForwarder>(*target, max_queue);
  forwarder->Start();
  g_sink = std::make_shared<ShippingSink>(std::move(forwarder), app_name);
  spdlog::default_logger()->sinks().push_back(g_sink);
  return Status::Ok();
}

void SealRequestLog(const std::string& trace_id, const std::string& request_id) {
  std::shared_ptr<ShippingSink> sink;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    sink = g_sink;
  }
  if (sink) sink->Seal(trace_id, request_id);
}

void StopLogShipping(int grace_ms) {
  std::shared_ptr<ShippingSink> sink;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    sink = std::move(g_sink);
  }
  if (!sink) return;
  // The sink stays on the logger (other threads may still be logging, and the logger's
  // sink list is not safe to change under them); a stopped forwarder drops what it gets.
  sink->forwarder().Stop(grace_ms);
}

}  // namespace wf
