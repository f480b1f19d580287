// Tests for the syslog sender (format, transport, drops) and for redaction.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "wf/logging.h"
#include "wf/redact.h"
#include "wf/syslog.h"
#include "wf/syslog_sink.h"

namespace wf {
namespace {

using namespace std::chrono_literals;

std::string Host() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

// A loopback socket of `type` bound to a free port; listening when it is TCP.
int BoundSocket(int type, int* port) {
  int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  if (type == SOCK_STREAM) ::listen(fd, 4);
  return fd;
}

// Reads from `fd` until `want` frames arrived or 10 s passed without data.
std::vector<SyslogMessage> ReadFrames(int fd, size_t want) {
  SyslogFramer framer;
  std::vector<SyslogMessage> out;
  char buf[4096];
  while (out.size() < want) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    Status s = framer.Feed(std::string_view(buf, n), [&](std::string_view frame) {
      auto m = ParseSyslog(frame);
      EXPECT_TRUE(m.ok()) << m.status().ToString() << ": " << frame;
      if (m.ok()) out.push_back(*m);
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

// Accepts one connection on `listener`, waiting up to 10 s; -1 when none came.
int Accept(int listener) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 10000) != 1) return -1;
  return ::accept(listener, nullptr, nullptr);
}

spdlog::details::log_msg Msg(spdlog::level::level_enum level, std::string_view text) {
  spdlog::details::log_msg m(spdlog::source_loc{}, "test", level, text);
  // 2026-01-02T03:04:05.678Z
  m.time = spdlog::log_clock::time_point(std::chrono::milliseconds(1767323045678LL));
  return m;
}

std::shared_ptr<SyslogSink> MakeSink(const std::string& url, size_t queue = 100,
                                     size_t max_bytes = 8192) {
  LogShipOptions o;
  o.url = url;
  o.app_name = "wf-test";
  o.queue = queue;
  o.max_message_bytes = max_bytes;
  o.send_timeout_ms = 1000;
  auto sink = SyslogSink::Create(o);
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
  return sink.ok() ? *sink : nullptr;
}

TEST(SyslogSinkTest, FormatsExactRfc5424WithEscapedIds) {
  auto sink = MakeSink("udp://127.0.0.1:9");
  LogScope scope("t\"1", "r\\2", "a]b");
  std::string line = sink->Format(Msg(spdlog::level::warn, "disk \"full\""));
  EXPECT_EQ(line, "<12>1 2026-01-02T03:04:05.678Z " + Host() + " wf-test " +
                      std::to_string(getpid()) +
                      " - [wf@32473 trace_id=\"t\\\"1\" request_id=\"r\\\\2\" task_id=\"a\\]b\"]"
                      " disk \"full\"");
  auto parsed = ParseSyslog(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->Param(kSyslogSdId, "trace_id"), "t\"1");
  EXPECT_EQ(parsed->Param(kSyslogSdId, "request_id"), "r\\2");
  EXPECT_EQ(parsed->Param(kSyslogSdId, "task_id"), "a]b");
  sink->Stop(0);
}

TEST(SyslogSinkTest, LinesWithoutIdsHaveNoStructuredData) {
  auto sink = MakeSink("udp://127.0.0.1:9");
  std::string line = sink->Format(Msg(spdlog::level::info, "engine started"));
  EXPECT_EQ(line, "<14>1 2026-01-02T03:04:05.678Z " + Host() + " wf-test " +
                      std::to_string(getpid()) + " - - engine started");
  LogScope scope("trace-1", "req-1");  // no task: no task_id param
  line = sink->Format(Msg(spdlog::level::err, "x"));
  EXPECT_NE(line.find("<11>1 "), std::string::npos) << line;
  EXPECT_NE(line.find("[wf@32473 trace_id=\"trace-1\" request_id=\"req-1\"] x"), std::string::npos)
      << line;
  sink->Stop(0);
}

TEST(SyslogSinkTest, LongLinesAreCutToFit) {
  auto sink = MakeSink("udp://127.0.0.1:9", 100, 480);
  LogScope scope("trace", "request", "task");
  std::string text(2000, 'x');
  text += "\xC3\xA9";  // a multi-byte character near the cut is never split
  std::string line = sink->Format(Msg(spdlog::level::info, text));
  EXPECT_LE(line.size(), 480u);
  auto parsed = ParseSyslog(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_NE(parsed->message.find("[truncated]"), std::string::npos);
  EXPECT_EQ(parsed->Param(kSyslogSdId, "task_id"), "task");
  sink->Stop(0);
}

TEST(SyslogSinkTest, FullQueueDropsAndCounts) {
  int port = 0;
  int fd = BoundSocket(SOCK_STREAM, &port);
  ::close(fd);  // nothing listens there: the sender cannot connect
  auto sink = MakeSink("tcp://127.0.0.1:" + std::to_string(port), 5);
  spdlog::logger logger("t", sink);
  for (int i = 0; i < 20; ++i) logger.info("line {}", i);
  LogShippingStats s = sink->Stats();
  EXPECT_EQ(s.queued, 5);
  EXPECT_EQ(s.dropped, 15);
  EXPECT_EQ(s.sent, 0);
  EXPECT_FALSE(s.connected);
  sink->Stop(0);  // what is still queued at stop is lost too
  s = sink->Stats();
  EXPECT_EQ(s.queued, 0);
  EXPECT_EQ(s.dropped, 20);
}

TEST(SyslogSinkTest, ShipsOverTcpInOrderWithTheSealLast) {
  int port = 0;
  int listener = BoundSocket(SOCK_STREAM, &port);
  auto sink = MakeSink("tcp://127.0.0.1:" + std::to_string(port));
  spdlog::logger logger("t", sink);
  {
    LogScope scope("trace-9", "request-9", "task-a");
    for (int i = 0; i < 50; ++i) logger.info("step {}", i);
  }
  sink->SendSeal("trace-9", "request-9");
  int conn = Accept(listener);
  ASSERT_GE(conn, 0);
  auto got = ReadFrames(conn, 51);
  ASSERT_EQ(got.size(), 51u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(got[i].message, "step " + std::to_string(i));
    EXPECT_EQ(got[i].app_name, "wf-test");
    EXPECT_EQ(got[i].Param(kSyslogSdId, "task_id"), "task-a");
  }
  EXPECT_EQ(got[50].msg_id, "seal");
  EXPECT_EQ(got[50].Param(kSyslogSdId, "trace_id"), "trace-9");
  EXPECT_EQ(got[50].Param(kSyslogSdId, "request_id"), "request-9");
  EXPECT_EQ(got[50].Param(kSyslogSdId, "task_id"), "");
  sink->Stop(5000);
  LogShippingStats s = sink->Stats();
  EXPECT_EQ(s.sent, 51);
  EXPECT_EQ(s.dropped, 0);
  ::close(conn);
  ::close(listener);
}

TEST(SyslogSinkTest, ReconnectsAfterThePeerClosed) {
  int port = 0;
  int listener = BoundSocket(SOCK_STREAM, &port);
  auto sink = MakeSink("tcp://127.0.0.1:" + std::to_string(port));
  spdlog::logger logger("t", sink);
  logger.info("first");
  int conn = Accept(listener);
  ASSERT_EQ(ReadFrames(conn, 1).size(), 1u);
  ::close(conn);  // the receiver goes away; the sender notices before the next write
  logger.info("second");
  conn = Accept(listener);
  auto got = ReadFrames(conn, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message, "second");
  sink->Stop(5000);
  EXPECT_EQ(sink->Stats().reconnects, 1);
  EXPECT_EQ(sink->Stats().sent, 2);
  ::close(conn);
  ::close(listener);
}

TEST(SyslogSinkTest, ShipsOverUdp) {
  int port = 0;
  int fd = BoundSocket(SOCK_DGRAM, &port);
  auto sink = MakeSink("udp://127.0.0.1:" + std::to_string(port));
  spdlog::logger logger("t", sink);
  {
    LogScope scope("tr", "rq", "tk");
    logger.error("boom");
  }
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  char buf[2048];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  auto m = ParseSyslog(std::string_view(buf, n));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->message, "boom");
  EXPECT_EQ(m->severity, 3);
  EXPECT_EQ(m->Param(kSyslogSdId, "task_id"), "tk");
  sink->Stop(5000);
  ::close(fd);
}

TEST(SyslogSinkTest, UrlAndFacilityErrors) {
  EXPECT_FALSE(ParseSyslogUrl("http://h:1").ok());
  EXPECT_FALSE(ParseSyslogUrl("tcp://h").ok());
  EXPECT_FALSE(ParseSyslogUrl("tcp://:514").ok());
  EXPECT_FALSE(ParseSyslogUrl("udp://h:70000").ok());
  auto v6 = ParseSyslogUrl("udp://[::1]:514");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(v6->tcp);
  EXPECT_EQ(*ParseSyslogFacility("local7"), 23);
  EXPECT_EQ(*ParseSyslogFacility("daemon"), 3);
  EXPECT_EQ(*ParseSyslogFacility("17"), 17);
  EXPECT_FALSE(ParseSyslogFacility("24").ok());
  EXPECT_FALSE(ParseSyslogFacility("local8").ok());
}

TEST(RedactTest, RegisteredSecretsLiveWithTheirScope) {
  {
    ScopedSecrets s({"hunter2-pass", "abc"});  // "abc" is too short to be registered
    EXPECT_EQ(RedactLine("login with hunter2-pass ok abc"), "login with *** ok abc");
    { ScopedSecrets again({"hunter2-pass"}); }
    EXPECT_EQ(RedactLine("hunter2-pass"), "***") << "still held by the outer scope";
  }
  EXPECT_EQ(RedactLine("hunter2-pass"), "hunter2-pass");
}

TEST(RedactTest, LongestSecretWinsAndManySecretsAreCheap) {
  ScopedSecrets a({"abcd", "abcd-efgh-1234"});
  EXPECT_EQ(RedactLine("x abcd-efgh-1234 y abcd-zz abc"), "x *** y ***-zz abc");
  std::vector<std::string> many;
  for (int i = 0; i < 5000; ++i) many.push_back("value-" + std::to_string(i) + "-secret");
  ScopedSecrets b(many);
  EXPECT_EQ(RedactLine("got value-4999-secret and value-17-secret, not value-5000-secret"),
            "got *** and ***, not value-5000-secret");
  // Masking stays correct at the very end of a line and for a line of a secret alone.
  EXPECT_EQ(RedactLine("tail abcd"), "tail ***");
  EXPECT_EQ(RedactLine("abcd"), "***");
}

TEST(RedactTest, CredentialHeadersAndKeys) {
  EXPECT_EQ(RedactLine("GET / Authorization: Bearer abc.def"), "GET / Authorization: ***");
  EXPECT_EQ(RedactLine("sent header x-api-key:  k-123\nnext"), "sent header x-api-key:  ***\nnext");
  EXPECT_EQ(RedactLine("token Bearer eyJhbGciOi.x"), "token Bearer ***");
  EXPECT_EQ(RedactLine(R"({"user":"bob","db_password":"p\"w","Token":"t1","n":1})"),
            R"({"user":"bob","db_password":"***","Token":"***","n":1})");
  EXPECT_EQ(RedactLine(R"({"headers":{"Authorization":"Basic dXNlcjpwdw=="}})"),
            R"({"headers":{"Authorization":"***"}})");
  EXPECT_EQ(RedactLine("url https://h/x?api_key=s3cr3t&page=2 client_secret=zz"),
            "url https://h/x?api_key=***&page=2 client_secret=***");
  EXPECT_EQ(RedactLine("task t1 succeeded (attempt 1)"), "task t1 succeeded (attempt 1)");
}

TEST(RedactTest, HugeLinesDoNotExhaustTheStack) {
  std::string big(1 << 20, 'x');
  std::string line = R"({"password":")" + big + R"(","token":"t"})" + " Authorization: " + big;
  std::string out = RedactLine(line);
  EXPECT_EQ(out.find("xxxx"), std::string::npos) << out.substr(0, 200);
  EXPECT_NE(out.find(R"("token":"***")"), std::string::npos);
  // Configured patterns look at a long line in pieces, however greedy they are.
  ASSERT_TRUE(SetRedactPatterns({"k=([^ ]+)", ".*"}).ok());
  EXPECT_EQ(RedactLine("k=" + big).find("xxxx"), std::string::npos);
  ASSERT_TRUE(SetRedactPatterns({}).ok());
}

TEST(RedactTest, ConfiguredPatterns) {
  ASSERT_TRUE(SetRedactPatterns({"ssn=(\\d+)", "card [0-9]{4}"}).ok());
  EXPECT_EQ(RedactLine("ssn=123456 card 4242 ok"), "ssn=*** *** ok");
  Status bad = SetRedactPatterns({"ok", "(open"});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("redact_patterns[1]"), std::string::npos) << bad.message();
  EXPECT_EQ(RedactLine("ssn=1"), "ssn=***") << "a bad set leaves the old one in place";
  ASSERT_TRUE(SetRedactPatterns({}).ok());
  EXPECT_EQ(RedactLine("ssn=1"), "ssn=1");
}

TEST(RedactTest, JsonBySchema) {
  json schema = {
      {"type", "object"},
      {"properties",
       {{"user", {{"type", "string"}}},
        {"password", {{"type", "string"}, {"x-secret", true}}},
        {"pin", {{"type", "integer"}, {"x-secret", true}}},
        {"nested", {{"properties", {{"key", {{"x-secret", true}}}}}}},
        {"keys", {{"type", "array"}, {"items", {{"type", "string"}, {"x-secret", true}}}}},
        {"env", {{"additionalProperties", {{"x-secret", true}}}}}}}};
  json data = {{"user", "bob"},
               {"password", "pa55word"},
               {"pin", 123456},
               {"nested", {{"key", {{"a", "k1-value"}, {"b", 7}}}, {"other", "visible"}}},
               {"keys", {"key-one", "key-two"}},
               {"env", {{"A", "env-a-value"}}}};
  json redacted = RedactBySchema(schema, data);
  EXPECT_EQ(redacted, (json{{"user", "bob"},
                            {"password", "***"},
                            {"pin", "***"},
                            {"nested", {{"key", "***"}, {"other", "visible"}}},
                            {"keys", {"***", "***"}},
                            {"env", {{"A", "***"}}}}));
  auto values = SecretValuesBySchema(schema, data);
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<std::string>{"123456", "7", "env-a-value", "k1-value", "key-one",
                                              "key-two", "pa55word"}));
  json doc = {{"outputs", {{"echo", "the pa55word was used"}, {"n", 1}}}, {"pa55word", "key"}};
  EXPECT_EQ(RedactValues(doc, values),
            (json{{"outputs", {{"echo", "the *** was used"}, {"n", 1}}}, {"pa55word", "key"}}));
  EXPECT_EQ(RedactBySchema(json::object(), data), data);
}

}  // namespace
}  // namespace wf
