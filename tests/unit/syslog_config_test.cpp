// Tests for the syslog: section of the configuration (wf-syslog's settings).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "wf/config.h"

namespace wf {
namespace {

namespace fs = std::filesystem;

std::string WriteYaml(const std::string& text) {
  const fs::path p = fs::temp_directory_path() /
                     ("wf-syslog-config-" + std::to_string(::getpid()) + "-" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml");
  std::ofstream(p, std::ios::trunc) << text;
  return p.string();
}

TEST(SyslogConfigTest, Defaults) {
  auto c = LoadConfig("", {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->syslog.dir, "syslog");
  EXPECT_EQ(c->syslog.bind, "127.0.0.1");
  EXPECT_EQ(c->syslog.udp_port, 5514);
  EXPECT_EQ(c->syslog.tcp_port, 5514);
  EXPECT_EQ(c->syslog.http_port, 8471);
  EXPECT_EQ(c->syslog.max_frame_bytes, 65536);
  EXPECT_EQ(c->syslog.max_connections, 256);
  EXPECT_EQ(c->syslog.forward_url, "");
  EXPECT_EQ(c->syslog.retention_days, 30);
  EXPECT_EQ(c->syslog.retention_max_bytes, 0);
  EXPECT_EQ(c->syslog.follow_timeout_s, 300);
}

TEST(SyslogConfigTest, ReadsYamlAndEnvironment) {
  const std::string path = WriteYaml(
      "syslog:\n  dir: /var/lib/wf/syslog\n  udp_port: 0\n  tcp_port: 1514\n  http_port: 0\n"
      "  forward_url: tcp://loghost:6514\n  retention_days: 0\n"
      "  retention_max_bytes: 53687091200\n");
  auto c = LoadConfig(path, {{"WF_SYSLOG_TCP_PORT", "0"}, {"WF_SYSLOG_MAX_CONNECTIONS", "10"}});
  fs::remove(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->syslog.dir, "/var/lib/wf/syslog");
  EXPECT_EQ(c->syslog.udp_port, 0);
  EXPECT_EQ(c->syslog.tcp_port, 0);  // the environment wins
  EXPECT_EQ(c->syslog.http_port, 0);
  EXPECT_EQ(c->syslog.max_connections, 10);
  EXPECT_EQ(c->syslog.forward_url, "tcp://loghost:6514");
  EXPECT_EQ(c->syslog.retention_days, 0);
  EXPECT_EQ(c->syslog.retention_max_bytes, 53687091200LL);  // over 32 bits
}

TEST(SyslogConfigTest, RejectsBadValuesNamingTheKey) {
  struct Case {
    const char* env;
    const char* value;
    const char* expect;
  };
  for (const Case& k :
       {Case{"WF_SYSLOG_TCP_PORT", "65536", "out of range"},
        Case{"WF_SYSLOG_UDP_PORT", "-1", "out of range"},
        Case{"WF_SYSLOG_HTTP_PORT", "http", "expected an integer"},
        Case{"WF_SYSLOG_MAX_FRAME_BYTES", "100", "out of range"},
        Case{"WF_SYSLOG_MAX_CONNECTIONS", "0", "out of range"},
        Case{"WF_SYSLOG_RETENTION_DAYS", "-3", "out of range"},
        Case{"WF_SYSLOG_RETENTION_MAX_BYTES", "-1", "out of range"},
        Case{"WF_SYSLOG_RETENTION_MAX_BYTES", "99999999999999999999", "expected an integer"},
        Case{"WF_SYSLOG_FOLLOW_TIMEOUT_S", "0", "out of range"}}) {
    auto c = LoadConfig("", {{k.env, k.value}});
    ASSERT_FALSE(c.ok()) << k.env << "=" << k.value;
    EXPECT_NE(c.status().message().find(k.env), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find(k.expect), std::string::npos) << c.status().message();
  }
  const std::string path = WriteYaml("syslog:\n  max_field_bytes: 300\n  colour: red\n");
  auto c = LoadConfig(path, {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("syslog.colour"), std::string::npos) << c.status().message();
  const std::string range = WriteYaml("syslog:\n  max_field_bytes: 300\n");
  c = LoadConfig(range, {});
  fs::remove(path);
  fs::remove(range);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("syslog.max_field_bytes"), std::string::npos)
      << c.status().message();
}

}  // namespace
}  // namespace wf
