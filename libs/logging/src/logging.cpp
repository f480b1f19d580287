#include "wf/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <mutex>

#include "wf/redact.h"

namespace wf {
namespace {

thread_local LogIds tls_ids;

// %& in the pattern: the ids of the current LogScope, if any.
class IdsFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const LogIds& ids = tls_ids;
    if (ids.trace_id.empty() && ids.request_id.empty()) return;
    std::string s = "[trace=" + ids.trace_id + " request=" + ids.request_id;
    if (!ids.task_id.empty()) s += " task=" + ids.task_id;
    s += "] ";
    dest.append(s.data(), s.data() + s.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<IdsFlag>();
  }
};

// stderr, each formatted line redacted.
class RedactingStderrSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::string line = RedactLine(std::string_view(buf.data(), buf.size()));
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

std::mutex ship_mu;
std::shared_ptr<SyslogSink> ship_sink;  // set by InitLogging; stopped (not cleared) at exit

std::shared_ptr<SyslogSink> ShipSink() {
  std::lock_guard<std::mutex> lock(ship_mu);
  return ship_sink;
}

}  // namespace

LogScope::LogScope(std::string trace_id, std::string request_id, std::string task_id)
    : saved_(std::move(tls_ids)) {
  tls_ids = LogIds{std::move(trace_id), std::move(request_id), std::move(task_id)};
}

LogScope::~LogScope() { tls_ids = std::move(saved_); }

const LogIds& CurrentLogIds() { return tls_ids; }

bool InitLogging(const std::string& service, const std::string& level, std::string* error,
                 const LogShipOptions& ship) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    if (error) *error = "unknown log level '" + level + "' (trace, debug, info, warn, error)";
    return false;
  }
  std::vector<spdlog::sink_ptr> sinks = {std::make_shared<RedactingStderrSink>()};
  std::shared_ptr<SyslogSink> syslog;
  if (!ship.url.empty()) {
    LogShipOptions options = ship;
    if (options.app_name.empty()) options.app_name = service;
    auto created = SyslogSink::Create(options);
    if (!created.ok()) {
      if (error) *error = "syslog_url: " + created.status().message();
      return false;
    }
    syslog = *created;
    sinks.push_back(syslog);
  }
  auto logger = std::make_shared<spdlog::logger>(service, sinks.begin(), sinks.end());
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<IdsFlag>('&').set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %n %&%v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  std::shared_ptr<SyslogSink> old;
  {
    std::lock_guard<std::mutex> lock(ship_mu);
    old = std::exchange(ship_sink, syslog);
  }
  if (old) old->Stop(0);
  return true;
}

LogShippingStats LogShipStats() {
  auto sink = ShipSink();
  return sink ? sink->Stats() : LogShippingStats{};
}

void SendLogSeal(const std::string& trace_id, const std::string& request_id) {
  if (auto sink = ShipSink()) sink->SendSeal(trace_id, request_id);
}

void StopLogShipping(int timeout_ms) {
  if (auto sink = ShipSink()) sink->Stop(timeout_ms);
}

}  // namespace wf
