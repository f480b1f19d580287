// The HTTP read API of wf-syslog (cpp-httplib): request and trace logs with filters, follow
// mode, seal records, sealing, /healthz and /metrics. See docs/logging.md. Bind() and
// Serve() are called from one thread, Stop() from any.
#pragma once

#include <httplib.h>

#include <atomic>
#include <string>

#include "wf/log_metrics.h"
#include "wf/logstore.h"

namespace wf {

struct LogServerOptions {
  std::string bind = "127.0.0.1";
  int port = 0;  // 0: any free port
  int threads = 8;
  int follow_timeout_s = 300;
};

class LogServer {
 public:
  LogServer(LogServerOptions options, LogStore& store, LogMetrics& metrics);

  // Binds the port; false (logged) when it cannot.
  bool Bind();
  int port() const { return port_; }
  // Serves until Stop().
  void Serve();
  void Stop();

 private:
  void Routes();

  LogServerOptions options_;
  LogStore& store_;
  LogMetrics& metrics_;
  httplib::Server server_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace wf
