// Forwards messages to an upstream syslog (rsyslog, syslog-ng, Splunk, Logstash...) as RFC
// 5424, over TCP with octet counting (RFC 6587) or over UDP. Enqueue() never blocks: the
// queue is bounded and a message that does not fit is dropped and counted. A background
// thread sends; when the upstream is down it reconnects with backoff, keeping the message
// it could not send. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "wf/core/status.h"
#include "wf/log_metrics.h"

namespace wf {

struct ForwardTarget {
  bool tcp = true;
  std::string host;
  int port = 0;
};

// "tcp://host:port" or "udp://host:port"; the error names syslog.forward_url.
Result<ForwardTarget> ParseForwardUrl(const std::string& url);

class SyslogForwarder {
 public:
  SyslogForwarder(ForwardTarget target, size_t max_queue, LogMetrics& metrics);
  ~SyslogForwarder();
  SyslogForwarder(const SyslogForwarder&) = delete;
  SyslogForwarder& operator=(const SyslogForwarder&) = delete;

  void Start();
  // Sends what is queued while the upstream answers (at most `grace_ms`), then stops.
  void Stop(int grace_ms = 2000);

  // Queues one RFC 5424 message (without framing).
  void Enqueue(std::string message);

 private:
  void Run();
  bool Connect();
  bool Send(const std::string& message);
  void Disconnect();

  ForwardTarget target_;
  size_t max_queue_;
  LogMetrics& metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stop_ = false;
  std::chrono::steady_clock::time_point stop_deadline_;
  int fd_ = -1;
  std::thread thread_;
};

}  // namespace wf
