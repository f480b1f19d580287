// SyslogSink: an spdlog sink that ships every line to a syslog receiver (wf-syslog) as
// RFC 5424, over TCP with octet-counting framing (RFC 6587) or over UDP.
//
// Each line carries the ids of the thread's LogScope as structured data
//   [wf@32473 trace_id="…" request_id="…" task_id="…"]
// (only the ids that are set; no element when none is) and is redacted (RedactLine())
// before it is queued. Logging never blocks on the network: lines go to a bounded queue
// that one sender thread drains; a line that finds the queue full is dropped and counted.
// The sender connects lazily, reconnects with backoff (100 ms doubling to 2 s) and puts the
// lines of a failed write back at the head of the queue. A TCP peer that closed the
// connection is noticed before the next write, so lines are not written into a dead
// connection. Thread-safe.
#pragma once

#include <spdlog/sinks/sink.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "wf/core/status.h"
#include "wf/syslog.h"

namespace wf {

struct LogShipOptions {
  std::string url;  // "tcp://host:port" or "udp://host:port"; empty: no shipping
  std::string app_name;
  size_t queue = 10000;             // lines waiting to be sent, at most
  size_t max_message_bytes = 8192;  // longer messages have their text cut to fit
  int facility = 1;                 // 0..23 (1 = user, 16..23 = local0..local7)
  int send_timeout_ms = 2000;       // connect and write timeout
};

struct LogShippingStats {
  int64_t queued = 0;      // lines waiting now
  int64_t sent = 0;        // lines written to the receiver
  int64_t dropped = 0;     // lines lost: queue full, too long, or unsendable at shutdown
  int64_t reconnects = 0;  // connections made after the first one
  bool connected = false;
  bool enabled = false;  // false when shipping is off
};

struct SyslogEndpoint {
  bool tcp = true;
  std::string host;
  std::string port;
};

// Parses "tcp://host:port", "udp://host:port" ("[v6addr]" for IPv6 literals). Errors say
// what is wrong with the URL.
Result<SyslogEndpoint> ParseSyslogUrl(const std::string& url);

// Facility by name (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron,
// authpriv, ftp, local0..local7) or number 0..23.
Result<int> ParseSyslogFacility(const std::string& text);

class SyslogSink : public spdlog::sinks::sink {
 public:
  // Starts the sender thread. `options.url` must parse (see ParseSyslogUrl).
  static Result<std::shared_ptr<SyslogSink>> Create(const LogShipOptions& options);
  ~SyslogSink() override;

  void log(const spdlog::details::log_msg& msg) override;
  void flush() override {}  // never waits for the network; see Stop()
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

  // The seal of a request's log (MSGID "seal", the ids in structured data). Queued after
  // every line logged before it; it may exceed the queue bound a little so that it is not
  // dropped with the lines of a burst.
  void SendSeal(const std::string& trace_id, const std::string& request_id);

  // Waits up to `timeout_ms` for the queue to drain, then stops the sender; lines still
  // queued are counted as dropped. Later lines are dropped. Idempotent.
  void Stop(int timeout_ms);

  LogShippingStats Stats() const;

  // One formatted frame body (no framing): exposed for tests.
  std::string Format(const spdlog::details::log_msg& msg) const;

 private:
  SyslogSink(LogShipOptions options, SyslogEndpoint endpoint);
  void Enqueue(std::string message, bool seal);
  void Run();
  bool Connect();
  void Disconnect();
  bool PeerClosed();
  bool WriteAll(const std::string& bytes);
  std::string Fit(SyslogMessage& m) const;

  const LogShipOptions options_;
  const SyslogEndpoint endpoint_;
  std::string hostname_;
  std::string proc_id_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // queue_ got a line, or stop_
  std::condition_variable drained_;  // queue_ became empty
  std::deque<std::string> queue_;
  bool stop_ = false;
  bool sending_ = false;  // the sender holds a batch taken from queue_
  int64_t sent_ = 0, dropped_ = 0, reconnects_ = 0, connects_ = 0;
  bool connected_ = false;

  int fd_ = -1;  // sender thread only
  std::thread thread_;
};

}  // namespace wf
