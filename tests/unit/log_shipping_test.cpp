// Tests for log shipping: lines logged inside a LogScope reach a syslog receiver as RFC
// 5424 with the ids in [wf@32473 ...], and SealRequestLog() sends a "seal" message after
// them. The receiver is a real UDP socket on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "wf/log_shipping.h"
#include "wf/logging.h"
#include "wf/syslog.h"

namespace wf {
namespace {

class UdpReceiver {
 public:
  UdpReceiver() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~UdpReceiver() { ::close(fd_); }
  int port() const { return port_; }
  // The next datagram, or "" when none comes within 10 s.
  std::string Next() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return "";
    std::vector<char> buf(65536);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    return n > 0 ? std::string(buf.data(), static_cast<size_t>(n)) : "";
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(LogShippingTest, ShipsLinesWithTheirIdsAndThenTheSeal) {
  UdpReceiver receiver;
  std::string error;
  ASSERT_TRUE(InitLogging("wf-test", "info", &error)) << error;
  ASSERT_TRUE(
      StartLogShipping("udp://127.0.0.1:" + std::to_string(receiver.port()), "wf-test").ok());
  {
    LogScope scope("trace-1", "request-1", "task-1");
    spdlog::warn("disk {} full", "/var");
  }
  spdlog::info("no ids here");
  SealRequestLog("trace-1", "request-1");

  auto first = ParseSyslog(receiver.Next());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->severity, 4);
  EXPECT_EQ(first->app_name, "wf-test");
  EXPECT_EQ(first->proc_id, std::to_string(::getpid()));
  EXPECT_FALSE(first->timestamp.empty());
  EXPECT_EQ(first->Param(kSyslogSdId, "trace_id"), "trace-1");
  EXPECT_EQ(first->Param(kSyslogSdId, "request_id"), "request-1");
  EXPECT_EQ(first->Param(kSyslogSdId, "task_id"), "task-1");
  EXPECT_EQ(first->message, "disk /var full");

  auto second = ParseSyslog(receiver.Next());
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->structured_data.empty());
  EXPECT_EQ(second->severity, 6);
  EXPECT_EQ(second->message, "no ids here");

  auto seal = ParseSyslog(receiver.Next());
  ASSERT_TRUE(seal.ok());
  EXPECT_EQ(seal->msg_id, "seal");
  EXPECT_EQ(seal->Param(kSyslogSdId, "trace_id"), "trace-1");
  EXPECT_EQ(seal->Param(kSyslogSdId, "request_id"), "request-1");

  StopLogShipping();
  spdlog::info("after stop");
  SealRequestLog("trace-1", "request-2");  // no-op now
}

TEST(LogShippingTest, RejectsBadUrlsNamingTheSetting) {
  Status s = StartLogShipping("syslog://x:1", "wf-test");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("log_syslog_url"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace wf
