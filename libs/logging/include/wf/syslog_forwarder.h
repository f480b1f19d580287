// Sends syslog messages to a syslog receiver (wf-syslog, or an upstream rsyslog, syslog-ng,
// Splunk, Logstash...) as RFC 5424, over TCP with octet counting (RFC 6587) or over UDP. Enqueue()
// never blocks: the queue is bounded and a message that does not fit is dropped and counted. A
// background thread sends; when the upstream is down it reconnects with backoff, keeping the
// message it could not send. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "wf/core/status.h"

namespace wf {

struct ForwardTarget {
  bool tcp = true;
  std::string host;
  int port = 0;
};

// "tcp://host:port" or "udp://host:port"; errors start with `key` (the setting's name).
Result<ForwardTarget> ParseForwardUrl(const std::string& url,
                                      const std::string& key = "syslog.forward_url");

class SyslogForwarder {
 public:
  // `sent` and `dropped` (optional) count messages sent and messages dropped (queue full,
  // UDP send failed, still queued at Stop()).
  SyslogForwarder(ForwardTarget target, size_t max_queue, std::atomic<uint64_t>* sent = nullptr,
                  std::atomic<uint64_t>* dropped = nullptr);
  ~SyslogForwarder();
  SyslogForwarder(const SyslogForwarder&) = delete;
  SyslogForwarder& operator=(const SyslogForwarder&) = delete;

  void Start();
  // Sends what is queued while the upstream answers (at most `grace_ms`), then stops.
  void Stop(int grace_ms = 2000);

  // Queues one RFC 5424 message (without framing).
  void Enqueue(std::string message);

  // True on a forwarder's sending thread: lets a log sink that feeds a forwarder skip the
  // forwarder's own warnings instead of feeding them back to it.
  static bool OnSenderThread();

 private:
  void Run();
  bool Connect();
  bool Send(const std::string& message);
  void Disconnect();

  ForwardTarget target_;
  size_t max_queue_;
  std::atomic<uint64_t> own_sent_{0}, own_dropped_{0};
  std::atomic<uint64_t>* sent_;
  std::atomic<uint64_t>* dropped_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stop_ = false;
  std::chrono::steady_clock::time_point stop_deadline_;
  int fd_ = -1;
  bool failing_ = false;  // warned about the upstream being unreachable (once per outage)
  std::thread thread_;
};

}  // namespace wf
