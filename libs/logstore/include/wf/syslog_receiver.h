// The syslog receiver of wf-syslog: one UDP socket and one TCP listener, served by a single
// poll() thread. Each TCP connection has its own RFC 6587 framer (octet counting or LF), so
// a slow or hostile client never holds up the others: reads are non-blocking and bounded
// per wake-up. Malformed or oversized messages are counted (LogMetrics) and dropped; a
// connection whose framing breaks is closed. Connections beyond max_connections are closed
// at once, and connections that stay silent for idle_timeout_s are closed too, so stalled
// clients cannot hold every slot forever.
//
// Bind() and Start()/Stop() are called from one thread; the handler runs on the receiver
// thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "wf/core/status.h"
#include "wf/log_metrics.h"
#include "wf/syslog.h"

namespace wf {

struct ReceiverOptions {
  std::string bind = "127.0.0.1";  // IPv4 address
  int udp_port = 0;                // 0: any free port
  int tcp_port = 0;
  size_t max_connections = 256;
  int idle_timeout_s = 300;  // a TCP connection silent this long is closed; 0: never
  SyslogLimits limits;       // limits.max_message_bytes bounds datagrams and frames
};

class SyslogReceiver {
 public:
  // `raw` is the message as received (without framing).
  using Handler = std::function<void(const SyslogMessage& m, std::string_view raw)>;

  SyslogReceiver(ReceiverOptions options, LogMetrics& metrics, Handler handler);
  ~SyslogReceiver();
  SyslogReceiver(const SyslogReceiver&) = delete;
  SyslogReceiver& operator=(const SyslogReceiver&) = delete;

  // Opens the sockets; afterwards udp_port()/tcp_port() are the bound ports.
  Status Bind();
  int udp_port() const { return udp_port_; }
  int tcp_port() const { return tcp_port_; }

  void Start();
  // Stops the thread and closes every socket.
  void Stop();

 private:
  void Run();
  void Deliver(std::string_view raw);

  ReceiverOptions options_;
  LogMetrics& metrics_;
  Handler handler_;
  int udp_fd_ = -1;
  int tcp_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() wakes poll()
  int udp_port_ = 0;
  int tcp_port_ = 0;
  std::thread thread_;
};

}  // namespace wf
