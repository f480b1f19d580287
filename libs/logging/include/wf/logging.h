// Process logging on spdlog, with request context.
//
// A LogScope puts a trace, request and task id on the current thread; every line logged
// on that thread while the scope lives carries them ("trace=… request=… task=…" on stderr,
// structured data when shipped to syslog). Scopes nest and restore the previous ids when
// they end. Every line is redacted (wf/redact.h) before it leaves the process.
// InitLogging() is called once at start, StopLogShipping() once at exit; everything else
// is thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "wf/syslog_sink.h"

namespace wf {

struct LogIds {
  std::string trace_id;
  std::string request_id;
  std::string task_id;
};

class LogScope {
 public:
  LogScope(std::string trace_id, std::string request_id, std::string task_id = {});
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  LogIds saved_;
};

// The ids of the innermost LogScope on this thread (empty strings when none).
const LogIds& CurrentLogIds();

// Sets the default logger: stderr, "<time> <level> <service> [ids] message", plus a
// SyslogSink when `ship.url` is set (its app_name defaults to `service`).
// `level` is one of trace, debug, info, warn, error; an unknown level or a bad syslog URL
// is an error.
bool InitLogging(const std::string& service, const std::string& level, std::string* error,
                 const LogShipOptions& ship = {});

// Counters of the process's log shipping (enabled = false when it is off).
LogShippingStats LogShipStats();

// Ships the seal of a request's log after every line logged before the call (no-op when
// shipping is off). Call it after the request's last line.
void SendLogSeal(const std::string& trace_id, const std::string& request_id);

// Drains the shipping queue for up to `timeout_ms`, then stops shipping (stderr logging
// goes on). Call before the process exits.
void StopLogShipping(int timeout_ms);

}  // namespace wf
