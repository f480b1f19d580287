// wf-syslog end to end: the real binary on free loopback ports, fed by util-linux `logger`
// and raw sockets, read back over its HTTP API, forwarding to a real rsyslogd.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace wf::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace std::string_literals;

std::string RedisUrl() {
  const char* url = std::getenv("WF_TEST_REDIS_URL");
  return url ? url : "redis://127.0.0.1:56379";
}

std::string Uuid(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012x", n, n * 7919 + 1);
  return buf;
}

// Runs a shell command; returns its exit status.
int Shell(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

size_t CountLines(const std::string& path) {
  const std::string text = ReadFile(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// A TCP connection to the receiver, for hand-made (and hostile) byte streams.
class RawTcp {
 public:
  explicit RawTcp(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~RawTcp() { ::close(fd_); }
  void Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the receiver may close a hostile connection
      off += static_cast<size_t>(n);
    }
  }
  // True once the receiver has closed the connection.
  bool ClosedByPeer() {
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

 private:
  int fd_ = -1;
};

// An RFC 5424 message carrying the engine's ids.
std::string Msg(const std::string& trace, const std::string& request, const std::string& task,
                const std::string& text, int severity = 6,
                const std::string& ts = "2024-05-01T10:00:00.000Z",
                const std::string& msgid = "-") {
  std::string out = "<";
  out += std::to_string(8 + severity);
  out += ">1 ";
  out += ts;
  out += " host1 wf-engine 77 ";
  out += msgid;
  out += " [wf@32473 trace_id=\"";
  out += trace;
  out += "\" request_id=\"";
  out += request;
  out += "\"";
  if (!task.empty()) {
    out += " task_id=\"";
    out += task;
    out += "\"";
  }
  out += "] ";
  out += text;
  return out;
}

std::string Octets(const std::string& m) { return std::to_string(m.size()) + " " + m; }

class SyslogService {
 public:
  using Env = std::map<std::string, std::string>;
  explicit SyslogService(const Env& extra_env = Env()) {
    work_ = MakeTempDir("wf-syslog-it");
    dir_ = work_ + "/store";
    std::map<std::string, std::string> env = {{"WF_SYSLOG_DIR", dir_},
                                              {"WF_SYSLOG_UDP_PORT", "0"},
                                              {"WF_SYSLOG_TCP_PORT", "0"},
                                              {"WF_SYSLOG_HTTP_PORT", "0"},
                                              {"WF_SYSLOG_FOLLOW_TIMEOUT_S", "60"},
                                              {"WF_REDIS_URL", RedisUrl()}};
    for (const auto& [k, v] : extra_env) env[k] = v;
    const std::string ports = work_ + "/ports.json";
    process_ = std::make_unique<Process>("wf-syslog", WF_SYSLOG_BIN,
                                         std::vector<std::string>{"--ports-file", ports}, env,
                                         work_ + "/wf-syslog.log");
    const bool up = WaitFor([&] { return fs::exists(ports) || !process_->Running(); }, 20s);
    if (!up || !fs::exists(ports)) {
      ADD_FAILURE() << "wf-syslog did not start:\n" << process_->Log();
      return;
    }
    const json p = json::parse(ReadFile(ports));
    udp_ = p["udp"];
    tcp_ = p["tcp"];
    http_ = p["http"];
    client_ = std::make_unique<httplib::Client>("127.0.0.1", http_);
    client_->set_read_timeout(30, 0);
  }
  ~SyslogService() {
    if (process_ && process_->Running()) {
      process_->Signal(SIGTERM);
      EXPECT_EQ(process_->Wait(20s), 0) << process_->Log();
    }
    std::error_code ec;
    if (!::testing::Test::HasFailure()) fs::remove_all(work_, ec);
  }

  int udp() const { return udp_; }
  int tcp() const { return tcp_; }
  int http_port() const { return http_; }
  const std::string& dir() const { return dir_; }
  httplib::Client& http() { return *client_; }
  std::string Log() const { return process_->Log(); }
  pid_t pid() const { return process_->pid(); }
  std::string RequestLog(const std::string& trace, const std::string& request) const {
    return dir_ + "/traces/" + trace + "/" + request + ".log";
  }
  // One series of GET /metrics, e.g. wf_syslog_dropped_total{reason="frame"}.
  long Metric(const std::string& series) {
    auto r = client_->Get("/metrics");
    if (!r || r->status != 200) return -1;
    std::istringstream in(r->body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(series + " ", 0) == 0) return std::stol(line.substr(series.size() + 1));
    }
    return -1;
  }
  // Sends one message on a fresh TCP connection (octet counted) and waits until it is counted.
  void SendTcp(const std::string& message) {
    const long before = Metric("wf_syslog_received_total{transport=\"tcp\"}");
    {
      RawTcp c(tcp_);
      c.Send(Octets(message));
    }
    EXPECT_TRUE(WaitFor(
        [&] { return Metric("wf_syslog_received_total{transport=\"tcp\"}") > before; }, 10s));
  }

 private:
  std::string work_, dir_;
  int udp_ = 0, tcp_ = 0, http_ = 0;
  std::unique_ptr<Process> process_;
  std::unique_ptr<httplib::Client> client_;
};

std::string LoggerIds(const std::string& trace, const std::string& request,
                      const std::string& task) {
  return " --sd-id wf@32473 --sd-param 'trace_id=\"" + trace + "\"' --sd-param 'request_id=\"" +
         request + "\"' --sd-param 'task_id=\"" + task + "\"'";
}

TEST(SyslogServiceTest, LoggerTcpAndUdpLinesLandInTheirFiles) {
  SyslogService s;
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string trace = Uuid(1), req_tcp = Uuid(2), req_udp = Uuid(3);
  ASSERT_EQ(Shell("logger --rfc5424 --tcp --octet-count -n 127.0.0.1 -P " +
                  std::to_string(s.tcp()) + " -t wf-engine --id=4711 --msgid step -p user.warning" +
                  LoggerIds(trace, req_tcp, "create_vm") + " 'hello over tcp'"),
            0);
  ASSERT_EQ(Shell("logger --rfc5424 -d -n 127.0.0.1 -P " + std::to_string(s.udp()) +
                  " -t wf-engine -p user.info" + LoggerIds(trace, req_udp, "notify") +
                  " 'hello over udp'"),
            0);
  ASSERT_EQ(Shell("logger --rfc3164 -d -n 127.0.0.1 -P " + std::to_string(s.udp()) +
                  " -t cron 'an old style line'"),
            0);
  ASSERT_TRUE(WaitFor(
      [&] {
        return CountLines(s.RequestLog(trace, req_tcp)) == 1 &&
               CountLines(s.RequestLog(trace, req_udp)) == 1 &&
               CountLines(s.dir() + "/service/cron.log") == 1;
      },
      10s))
      << s.Log();
  json tcp_line = json::parse(ReadFile(s.RequestLog(trace, req_tcp)));
  EXPECT_EQ(tcp_line["msg"], "hello over tcp");
  EXPECT_EQ(tcp_line["app"], "wf-engine");
  EXPECT_EQ(tcp_line["msgid"], "step");
  EXPECT_EQ(tcp_line["level"], "warning");
  EXPECT_EQ(tcp_line["severity"], 4);
  EXPECT_EQ(tcp_line["trace_id"], trace);
  EXPECT_EQ(tcp_line["request_id"], req_tcp);
  EXPECT_EQ(tcp_line["task_id"], "create_vm");
  EXPECT_EQ(tcp_line["pid"], "4711");
  json udp_line = json::parse(ReadFile(s.RequestLog(trace, req_udp)));
  EXPECT_EQ(udp_line["msg"], "hello over udp");
  EXPECT_EQ(udp_line["task_id"], "notify");
  json cron = json::parse(ReadFile(s.dir() + "/service/cron.log"));
  EXPECT_EQ(cron["msg"], "an old style line");
  EXPECT_EQ(cron["trace_id"], "");

  // LF-framed RFC 5424 and RFC 3164 lines on one TCP connection.
  {
    RawTcp c(s.tcp());
    c.Send(Msg(trace, req_tcp, "t2", "lf framed") +
           "\n<13>Nov 22 03:21:29 myhost cron[9]: lf 3164\n");
  }
  EXPECT_TRUE(WaitFor([&] { return CountLines(s.RequestLog(trace, req_tcp)) == 2; }, 10s));
  EXPECT_TRUE(WaitFor([&] { return CountLines(s.dir() + "/service/cron.log") == 2; }, 10s));

  // Presence in Redis, like the other services.
  httplib::Result health = s.http().Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_TRUE(WaitFor(
      [&] {
        // This process's record (other tests may run a wf-syslog at the same time).
        return Shell("redis-cli -u " + RedisUrl() +
                     " --scan --pattern 'wf:presence:syslog:*' | xargs -r -n1 redis-cli -u " +
                     RedisUrl() + " GET | grep -q '\"pid\":" + std::to_string(s.pid()) + ",'") == 0;
      },
      10s));
}

TEST(SyslogServiceTest, HostileClientsDoNotStopWellBehavedOnes) {
  SyslogService s(SyslogService::Env{{"WF_SYSLOG_MAX_FRAME_BYTES", "4096"},
                                     {"WF_SYSLOG_MAX_FIELD_BYTES", "32"}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string trace = Uuid(10), req = Uuid(11);

  RawTcp stalled(s.tcp());  // announces 1000 bytes, sends 5, then says nothing
  stalled.Send("1000 <13>1");
  RawTcp negative(s.tcp());
  negative.Send("-5 <13>1 - - - - - -");
  RawTcp huge(s.tcp());
  huge.Send("99999999999 <13>1 - - - - - - x");
  RawTcp non_numeric(s.tcp());
  non_numeric.Send("12x <13>1 - - - - - -");
  RawTcp endless(s.tcp());
  endless.Send("<13>1 " + std::string(5000, 'A'));  // no LF within max_frame_bytes
  RawTcp junk(s.tcp());  // whole lines that are not syslog: dropped, connection kept
  junk.Send(
      "hello\0world\n\xff\xfe\xfd\n<999>1 - - - - - -\n<13>1 2024-13-45T99:00:00Z "
      "h a p m - bad time\n"s +
      "<13>1 - " + std::string(33, 'h') + " app - - - hostname over max_field_bytes\n");
  RawTcp bad_utf8(s.tcp());  // invalid UTF-8 and NUL in MSG are kept, replaced
  bad_utf8.Send(Octets(Msg(trace, req, "t", "bad \xc3\x28 and nul \0 end"s)));

  for (RawTcp* c : {&negative, &huge, &non_numeric, &endless}) {
    EXPECT_TRUE(WaitFor([&] { return c->ClosedByPeer(); }, 10s));
  }
  // The well-behaved client, while the stalled one still holds its connection open.
  ASSERT_EQ(
      Shell("logger --rfc5424 --tcp --octet-count -n 127.0.0.1 -P " + std::to_string(s.tcp()) +
            " -t wf-engine" + LoggerIds(trace, req, "good") + " 'still served'"),
      0);
  ASSERT_TRUE(WaitFor([&] { return CountLines(s.RequestLog(trace, req)) == 2; }, 10s)) << s.Log();
  const std::string stored = ReadFile(s.RequestLog(trace, req));
  EXPECT_NE(stored.find("still served"), std::string::npos);
  std::vector<json> lines = JsonLines(stored);
  bool saw_replaced = false;
  for (const auto& l : lines) {
    const std::string msg = l["msg"];
    if (msg.rfind("bad ", 0) == 0) {
      saw_replaced = true;
      EXPECT_NE(msg.find("\xEF\xBF\xBD"), std::string::npos);
      EXPECT_NE(msg.find("nul \0 end"s), std::string::npos);
    }
  }
  EXPECT_TRUE(saw_replaced) << stored;
  EXPECT_FALSE(stalled.ClosedByPeer());
  EXPECT_GE(s.Metric("wf_syslog_dropped_total{reason=\"frame\"}"), 4);
  EXPECT_TRUE(
      WaitFor([&] { return s.Metric("wf_syslog_dropped_total{reason=\"parse\"}") >= 5; }, 10s));

  // Oversized UDP datagrams are dropped and counted.
  const long oversize = s.Metric("wf_syslog_dropped_total{reason=\"oversize\"}");
  {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.udp()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const std::string big = Msg(trace, req, "t", std::string(5000, 'x'));
    ::sendto(fd, big.data(), big.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::close(fd);
  }
  EXPECT_TRUE(WaitFor(
      [&] { return s.Metric("wf_syslog_dropped_total{reason=\"oversize\"}") == oversize + 1; },
      10s));
}

TEST(SyslogServiceTest, ConnectionsOverTheLimitAreRefused) {
  SyslogService s(SyslogService::Env{{"WF_SYSLOG_MAX_CONNECTIONS", "2"}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  RawTcp a(s.tcp()), b(s.tcp());
  a.Send("<13>hello a\n");
  b.Send("<13>hello b\n");
  ASSERT_TRUE(WaitFor([&] { return s.Metric("wf_syslog_tcp_connections") == 2; }, 10s));
  RawTcp c(s.tcp());
  EXPECT_TRUE(WaitFor([&] { return c.ClosedByPeer(); }, 10s));
  EXPECT_EQ(s.Metric("wf_syslog_dropped_total{reason=\"connections\"}"), 1);
}

TEST(SyslogServiceTest, SilentConnectionsAreClosed) {
  SyslogService s(SyslogService::Env{{"WF_SYSLOG_IDLE_TIMEOUT_S", "1"}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  RawTcp stalled(s.tcp());
  stalled.Send("100 <13>1 - - -");  // a frame it never finishes
  EXPECT_TRUE(WaitFor([&] { return stalled.ClosedByPeer(); }, 20s));
  EXPECT_EQ(s.Metric("wf_syslog_dropped_total{reason=\"truncated\"}"), 1);
  EXPECT_EQ(s.Metric("wf_syslog_tcp_connections"), 0);
}

TEST(SyslogServiceTest, SealThenReadTheSealAndDropLateLines) {
  SyslogService s;
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string trace = Uuid(20), req = Uuid(21), other = Uuid(22);
  s.SendTcp(Msg(trace, req, "a", "one"));
  s.SendTcp(Msg(trace, req, "a", "two"));
  ASSERT_TRUE(WaitFor([&] { return CountLines(s.RequestLog(trace, req)) == 2; }, 10s));

  auto not_yet = s.http().Get("/v1/requests/" + req + "/logs/seal");
  ASSERT_TRUE(not_yet);
  EXPECT_EQ(not_yet->status, 409);
  EXPECT_EQ(json::parse(not_yet->body)["sealed"], false);

  auto sealed = s.http().Post("/v1/logs/requests/" + req + "/seal", "", "application/json");
  ASSERT_TRUE(sealed);
  ASSERT_EQ(sealed->status, 200) << sealed->body;
  json seal = json::parse(sealed->body);
  EXPECT_EQ(seal["lines"], 2);
  EXPECT_EQ(seal["size"], ReadFile(s.RequestLog(trace, req)).size());
  EXPECT_EQ(seal["trace_id"], trace);
  EXPECT_EQ(seal["sha256"].get<std::string>().size(), 64u);
  // The digest is the file's, as sha256sum sees it.
  EXPECT_EQ(Shell("echo '" + seal["sha256"].get<std::string>() + "  " + s.RequestLog(trace, req) +
                  "' | sha256sum --check --status"),
            0);

  auto read_back = s.http().Get("/v1/requests/" + req + "/logs/seal");
  ASSERT_TRUE(read_back);
  EXPECT_EQ(read_back->status, 200);
  EXPECT_EQ(json::parse(read_back->body), seal);

  // A line after the seal is counted and dropped; the file does not change.
  s.SendTcp(Msg(trace, req, "a", "too late"));
  EXPECT_TRUE(
      WaitFor([&] { return s.Metric("wf_syslog_dropped_total{reason=\"sealed\"}") == 1; }, 10s));
  EXPECT_EQ(CountLines(s.RequestLog(trace, req)), 2u);

  // Sealing by syslog message (MSGID "seal"), for a request that never logged.
  s.SendTcp(Msg(trace, other, "", "request finished", 6, "2024-05-01T10:00:05Z", "seal"));
  auto other_seal = s.http().Get("/v1/requests/" + other + "/logs/seal");
  ASSERT_TRUE(other_seal);
  EXPECT_EQ(other_seal->status, 200) << other_seal->body;
  EXPECT_EQ(json::parse(other_seal->body)["lines"], 0);
  EXPECT_EQ(s.Metric("wf_syslog_sealed_total"), 2);

  // Bad and unknown ids.
  auto bad = s.http().Get("/v1/requests/.hidden/logs/seal");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(json::parse(bad->body)["error"]["code"], "invalid_id");
  auto traversal = s.http().Get("/v1/requests/..%2F..%2Fetc/logs/seal");
  ASSERT_TRUE(traversal);
  EXPECT_EQ(traversal->status, 404);  // not a route once decoded
  EXPECT_EQ(json::parse(traversal->body)["error"]["code"], "not_found");
  auto unknown = s.http().Post("/v1/logs/requests/" + Uuid(99) + "/seal", "", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto bad_body =
      s.http().Post("/v1/logs/requests/" + Uuid(99) + "/seal", "[1]", "application/json");
  ASSERT_TRUE(bad_body);
  EXPECT_EQ(bad_body->status, 400);
  auto huge_body = s.http().Post("/v1/logs/requests/" + Uuid(99) + "/seal",
                                 std::string(1 << 20, ' '), "application/json");
  ASSERT_TRUE(huge_body);
  EXPECT_EQ(huge_body->status, 413);
}

TEST(SyslogServiceTest, ReadApiFiltersAndFormats) {
  SyslogService s;
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string trace = Uuid(30), r1 = Uuid(31), r2 = Uuid(32);
  {
    RawTcp c(s.tcp());
    c.Send(Octets(Msg(trace, r1, "t1", "first", 6, "2024-05-01T10:00:00Z")) +
           Octets(Msg(trace, r2, "t9", "second", 3, "2024-05-01T10:00:01Z")) +
           Octets(Msg(trace, r1, "t2", "third", 4, "2024-05-01T10:00:02Z")) +
           Octets(Msg(trace, r1, "t1", "fourth", 7, "2024-05-01T10:00:03Z")));
  }
  ASSERT_TRUE(WaitFor([&] { return s.Metric("wf_syslog_stored_total") == 4; }, 10s));
  auto msgs = [&](const std::string& path) {
    auto r = s.http().Get(path);
    EXPECT_TRUE(r);
    if (!r) return std::string("<no answer>");
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    std::string out;
    for (const auto& l : JsonLines(r->body)) out += l["msg"].get<std::string>() + ",";
    return out;
  };
  const std::string base = "/v1/requests/" + r1 + "/logs";
  EXPECT_EQ(msgs(base), "first,third,fourth,");
  EXPECT_EQ(msgs(base + "?task_id=t1"), "first,fourth,");
  EXPECT_EQ(msgs(base + "?level=warning"), "third,");
  EXPECT_EQ(msgs(base + "?since=2024-05-01T12:00:02%2B02:00"), "third,fourth,");
  EXPECT_EQ(msgs(base + "?since=2024-05-01T12:00:02+02:00"), "third,fourth,");
  EXPECT_EQ(msgs(base + "?limit=2"), "first,third,");
  EXPECT_EQ(msgs("/v1/traces/" + trace + "/logs"), "first,second,third,fourth,");
  EXPECT_EQ(msgs("/v1/traces/" + trace + "/logs?level=err"), "second,");

  auto text = s.http().Get(base + "?format=text&task_id=t2");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 200);
  EXPECT_EQ(text->get_header_value("Content-Type").rfind("text/plain", 0), 0u);
  EXPECT_EQ(text->body, "2024-05-01T10:00:02.000000Z warning wf-engine[77] [t2] third\n");

  for (const auto& [query, path] :
       std::vector<std::pair<std::string, std::string>>{{"since=yesterday", "query.since"},
                                                        {"level=loud", "query.level"},
                                                        {"limit=0", "query.limit"},
                                                        {"limit=-1", "query.limit"},
                                                        {"format=xml", "query.format"},
                                                        {"follow=maybe", "query.follow"}}) {
    auto r = s.http().Get(base + "?" + query);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << query;
    json e = json::parse(r->body);
    EXPECT_EQ(e["error"]["code"], "invalid_argument") << query;
    EXPECT_EQ(e["error"]["path"], path) << query;
  }
  auto unknown = s.http().Get("/v1/requests/" + Uuid(39) + "/logs");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto bad_trace = s.http().Get("/v1/traces/.hidden/logs");
  ASSERT_TRUE(bad_trace);
  EXPECT_EQ(bad_trace->status, 400);
}

TEST(SyslogServiceTest, FollowStreamsLinesUntilTheRequestIsSealed) {
  SyslogService s;
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string trace = Uuid(40), req = Uuid(41);
  s.SendTcp(Msg(trace, req, "t", "before follow"));

  std::mutex mu;
  std::string received;
  int status = 0;
  std::atomic<bool> done{false};
  std::thread follower([&] {
    httplib::Client c("127.0.0.1", s.http_port());
    c.set_read_timeout(60, 0);
    auto r = c.Get("/v1/requests/" + req + "/logs?follow=1&format=text",
                   [&](const char* data, size_t n) {
                     std::lock_guard<std::mutex> lock(mu);
                     received.append(data, n);
                     return true;
                   });
    std::lock_guard<std::mutex> lock(mu);
    status = r ? r->status : -1;
    done = true;
  });
  auto got = [&](const std::string& text) {
    std::lock_guard<std::mutex> lock(mu);
    return received.find(text) != std::string::npos;
  };
  EXPECT_TRUE(WaitFor([&] { return got("before follow"); }, 10s));
  s.SendTcp(Msg(trace, req, "t", "while following"));
  EXPECT_TRUE(WaitFor([&] { return got("while following"); }, 10s));
  EXPECT_FALSE(done);
  auto sealed = s.http().Post("/v1/logs/requests/" + req + "/seal", "", "application/json");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->status, 200);
  EXPECT_TRUE(WaitFor([&] { return done.load(); }, 10s));
  follower.join();
  EXPECT_EQ(status, 200);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(std::count(received.begin(), received.end(), '\n'), 2) << received;

  // Following a sealed request returns what it has and ends.
  auto again = s.http().Get("/v1/requests/" + req + "/logs?follow=1");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(JsonLines(again->body).size(), 2u);
}

TEST(SyslogServiceTest, FollowWaitsForARequestThatHasNotLoggedYet) {
  SyslogService s;
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string trace = Uuid(45), req = Uuid(46);
  std::atomic<bool> done{false};
  std::string body;
  int status = 0;
  std::thread follower([&] {
    httplib::Client c("127.0.0.1", s.http_port());
    c.set_read_timeout(60, 0);
    auto r = c.Get("/v1/requests/" + req + "/logs?follow=1&limit=2");
    status = r ? r->status : -1;
    body = r ? r->body : "";
    done = true;
  });
  // The follower's stream is open before the first line exists.
  EXPECT_TRUE(WaitFor([&] { return s.Metric("wf_syslog_follow_streams") == 1; }, 10s));
  EXPECT_EQ(s.Metric("wf_syslog_stored_total"), 0);
  s.SendTcp(Msg(trace, req, "t", "first"));
  s.SendTcp(Msg(trace, req, "t", "second"));
  s.SendTcp(Msg(trace, req, "t", "third"));
  EXPECT_TRUE(WaitFor([&] { return done.load(); }, 20s));  // ends at limit=2, unsealed
  follower.join();
  EXPECT_EQ(status, 200);
  std::vector<json> lines = JsonLines(body);
  ASSERT_EQ(lines.size(), 2u) << body;
  EXPECT_EQ(lines[0]["msg"], "first");
  EXPECT_EQ(lines[1]["msg"], "second");
  EXPECT_TRUE(WaitFor([&] { return s.Metric("wf_syslog_follow_streams") == 0; }, 10s));
}

// A real rsyslogd, unprivileged, listening on a free loopback port (imtcp, and imudp on the
// same port number) and writing the fields it parsed from each message to a file (omfile
// with a template).
class Rsyslog {
 public:
  Rsyslog() {
    dir_ = MakeTempDir("wf-rsyslog");
    port_ = FreePort();
    const std::string conf = dir_ + "/rsyslog.conf";
    WriteFile(conf,
              "global(workDirectory=\"" + dir_ +
                  "\")\n"
                  "module(load=\"imtcp\")\n"
                  "module(load=\"imudp\")\n"
                  "template(name=\"wf_fields\" type=\"string\" string=\"%hostname%|%app-name%|"
                  "%procid%|%msgid%|%syslogseverity-text%|%structured-data%|%msg%\\n\")\n"
                  "ruleset(name=\"wf_in\") {\n"
                  "  action(type=\"omfile\" file=\"" +
                  out() +
                  "\" template=\"wf_fields\")\n"
                  "}\n"
                  "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" +
                  std::to_string(port_) + "\" ruleset=\"wf_in\")\n" +
                  "input(type=\"imudp\" address=\"127.0.0.1\" port=\"" + std::to_string(port_) +
                  "\" ruleset=\"wf_in\")\n");
    process_ = std::make_unique<Process>(
        "rsyslogd", "/usr/sbin/rsyslogd",
        std::vector<std::string>{"-n", "-f", conf, "-i", dir_ + "/rsyslogd.pid"},
        std::map<std::string, std::string>{}, dir_ + "/rsyslogd.log");
    const bool listening = WaitFor(
        [&] {
          int fd = ::socket(AF_INET, SOCK_STREAM, 0);
          sockaddr_in addr{};
          addr.sin_family = AF_INET;
          addr.sin_port = htons(static_cast<uint16_t>(port_));
          addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
          ::close(fd);
          return ok || !process_->Running();
        },
        20s);
    if (!listening || !process_->Running()) {
      ADD_FAILURE() << "rsyslogd did not start:\n" << process_->Log();
    }
  }
  ~Rsyslog() {
    process_->Signal(SIGTERM);
    process_->Wait(10s);
    std::error_code ec;
    if (!::testing::Test::HasFailure()) fs::remove_all(dir_, ec);
  }
  int port() const { return port_; }
  std::string out() const { return dir_ + "/out.log"; }
  std::string Log() const { return process_->Log(); }

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

TEST(SyslogServiceTest, ForwardsEveryMessageToAnUpstreamSyslog) {
  Rsyslog upstream;
  ASSERT_FALSE(::testing::Test::HasFailure());
  SyslogService s(SyslogService::Env{
      {"WF_SYSLOG_FORWARD_URL", "tcp://127.0.0.1:" + std::to_string(upstream.port())}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string trace = Uuid(50), req = Uuid(51);
  s.SendTcp(Msg(trace, req, "create_vm", "forward me", 4, "2024-05-01T10:00:00Z", "step"));
  ASSERT_EQ(Shell("logger --rfc3164 -d -n 127.0.0.1 -P " + std::to_string(s.udp()) +
                  " -t cron 'old style'"),
            0);
  ASSERT_TRUE(WaitFor([&] { return CountLines(upstream.out()) == 2; }, 20s))
      << upstream.Log() << "\n"
      << s.Log();
  const std::string out = ReadFile(upstream.out());
  EXPECT_NE(out.find("host1|wf-engine|77|step|warning|[wf@32473 trace_id=\"" + trace +
                     "\" request_id=\"" + req + "\" task_id=\"create_vm\"]|forward me\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("|cron|"), std::string::npos) << out;
  EXPECT_NE(out.find("|old style\n"), std::string::npos) << out;
  EXPECT_TRUE(WaitFor([&] { return s.Metric("wf_syslog_forwarded_total") == 2; }, 10s));
  // Forwarding does not replace storing.
  EXPECT_EQ(CountLines(s.RequestLog(trace, req)), 1u);
}

TEST(SyslogServiceTest, ForwardsOverUdpToo) {
  Rsyslog upstream;
  ASSERT_FALSE(::testing::Test::HasFailure());
  SyslogService s(SyslogService::Env{
      {"WF_SYSLOG_FORWARD_URL", "udp://127.0.0.1:" + std::to_string(upstream.port())}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string trace = Uuid(55), req = Uuid(56);
  s.SendTcp(Msg(trace, req, "t", "by datagram", 3, "2024-05-01T10:00:00Z", "step"));
  ASSERT_TRUE(WaitFor([&] { return CountLines(upstream.out()) == 1; }, 20s))
      << upstream.Log() << "\n"
      << s.Log();
  EXPECT_EQ(ReadFile(upstream.out()), "host1|wf-engine|77|step|err|[wf@32473 trace_id=\"" + trace +
                                          "\" request_id=\"" + req +
                                          "\" task_id=\"t\"]|by datagram\n");
}

TEST(SyslogServiceTest, ForwardingNeverBlocksReceiving) {
  // The upstream is down (nothing listens): the queue of 2 fills and further messages are
  // dropped and counted, while every line is still stored.
  const int closed_port = FreePort();
  SyslogService s(SyslogService::Env{
      {"WF_SYSLOG_FORWARD_URL", "tcp://127.0.0.1:" + std::to_string(closed_port)},
      {"WF_SYSLOG_FORWARD_QUEUE", "2"}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string trace = Uuid(60), req = Uuid(61);
  {
    RawTcp c(s.tcp());
    std::string batch;
    for (int i = 0; i < 20; ++i) batch += Octets(Msg(trace, req, "t", "line " + std::to_string(i)));
    c.Send(batch);
  }
  EXPECT_TRUE(WaitFor([&] { return CountLines(s.RequestLog(trace, req)) == 20; }, 10s));
  EXPECT_TRUE(
      WaitFor([&] { return s.Metric("wf_syslog_dropped_total{reason=\"forward\"}") >= 17; }, 10s));
  EXPECT_EQ(s.Metric("wf_syslog_forwarded_total"), 0);
}

TEST(SyslogServiceTest, BadSettingsStopTheStartNamingTheKey) {
  const std::string dir = MakeTempDir("wf-syslog-bad");
  struct Case {
    const char* key;
    const char* value;
    const char* expect;
  };
  for (const Case& k : {Case{"WF_SYSLOG_FORWARD_URL", "http://loghost:514", "syslog.forward_url"},
                        Case{"WF_SYSLOG_BIND", "localhost:1", "syslog.bind"},
                        Case{"WF_SYSLOG_TCP_PORT", "abc", "WF_SYSLOG_TCP_PORT"}}) {
    std::map<std::string, std::string> env = {{"WF_SYSLOG_DIR", dir + "/store"},
                                              {"WF_SYSLOG_UDP_PORT", "0"},
                                              {"WF_SYSLOG_TCP_PORT", "0"},
                                              {"WF_SYSLOG_HTTP_PORT", "0"},
                                              {"WF_REDIS_URL", RedisUrl()}};
    env[k.key] = k.value;
    Process p("wf-syslog", WF_SYSLOG_BIN, {}, env, dir + "/" + k.key + ".log");
    EXPECT_EQ(p.Wait(20s), 2) << k.key;
    EXPECT_NE(p.Log().find(k.expect), std::string::npos) << p.Log();
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(SyslogServiceTest, EngineShipsRequestLogsAndSealsThemWhenTheRequestEnds) {
  SyslogService s;
  ASSERT_FALSE(::testing::Test::HasFailure());
  Stack stack;
  stack.SetEnv("WF_LOGGING_SYSLOG_URL", "tcp://127.0.0.1:" + std::to_string(s.tcp()));
  stack.StartApi();
  stack.StartEngine("engine-1");
  const std::string trace = Uuid(70);
  const std::string id = stack.Submit("hello", {{"name", "world"}}, trace);
  json r = stack.WaitDone(id, 30s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump() << stack.Logs();

  // The engine seals the log once the request has ended.
  std::string seal_body;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto seal = s.http().Get("/v1/requests/" + id + "/logs/seal");
        if (!seal || seal->status != 200) return false;
        seal_body = seal->body;
        return true;
      },
      20s))
      << s.Log() << stack.Logs();
  json record = json::parse(seal_body);
  EXPECT_EQ(record["trace_id"], trace);
  EXPECT_GT(record["lines"].get<int>(), 0);

  auto logs = s.http().Get("/v1/requests/" + id + "/logs");
  ASSERT_TRUE(logs);
  ASSERT_EQ(logs->status, 200);
  std::vector<json> lines = JsonLines(logs->body);
  EXPECT_EQ(lines.size(), record["lines"].get<size_t>());
  bool task_line = false;
  for (const auto& l : lines) {
    EXPECT_EQ(l["trace_id"], trace);
    EXPECT_EQ(l["request_id"], id);
    EXPECT_TRUE(l["app"] == "wf-engine" || l["app"] == "wf-api") << l.dump();
    if (l["task_id"] == "greet" && l["app"] == "wf-engine") task_line = true;
  }
  EXPECT_TRUE(task_line) << logs->body;
  auto by_trace = s.http().Get("/v1/traces/" + trace + "/logs?task_id=greet");
  ASSERT_TRUE(by_trace);
  EXPECT_EQ(by_trace->status, 200);
  EXPECT_FALSE(JsonLines(by_trace->body).empty());
}

// The whole path, with the real services: engine and API ship to wf-syslog, which stores and
// seals the request's log; clients read it through the API. A workflow with a retried and a
// failed task, then a re-run in the same trace; a secret input never reaches any log.
TEST(LoggingEndToEnd, RequestAndTraceLogsThroughTheApi) {
  SyslogService s;
  ASSERT_FALSE(::testing::Test::HasFailure());
  TestHttpServer http;
  std::atomic<int> calls{0};
  http.server().Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    res.status = ++calls == 1 ? 503 : 200;
    res.set_content("{}", "application/json");
  });
  http.Start();
  const std::string secret = "pw-Very-Secret-4711";
  Stack stack;
  stack.SetEnv("WF_LOGGING_SYSLOG_URL", "tcp://127.0.0.1:" + std::to_string(s.tcp()));
  stack.SetEnv("WF_API_LOGS_URL", "http://127.0.0.1:" + std::to_string(s.http_port()));
  stack.AddTemplate(
      "logged",
      {{"name", "logged"},
       {"inputs",
        {{"type", "object"},
         {"properties", {{"password", {{"type", "string"}, {"x-secret", true}}}}}}},
       {"tasks",
        {{{"id", "first"}, {"type", "set"}, {"params", {{"pw", "${data.password}"}}}},
         {{"id", "flaky"},
          {"type", "http"},
          {"depends_on", {"first"}},
          {"retry", {{"max_attempts", 3}, {"initial_delay_ms", 50}}},
          {"params",
           {{"url", http.url() + "/flaky"}, {"headers", {{"X-Pw", "${data.password}"}}}}}},
         {{"id", "broken"},
          {"type", "http"},
          {"depends_on", {"flaky"}},
          {"params", {{"url", http.url() + "/missing"}}}}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  const std::string id = stack.Submit("logged", {{"password", secret}});
  json done = stack.WaitDone(id, 30s);
  ASSERT_EQ(done["status"], "failed") << done.dump();
  const std::string trace = done["trace_id"];
  ASSERT_TRUE(WaitFor(
      [&] {
        auto seal = s.http().Get("/v1/requests/" + id + "/logs/seal");
        return seal && seal->status == 200;
      },
      20s))
      << s.Log();

  // Through the API: every line carries the request's ids, and the story is in order.
  auto r = stack.Get("/v1/requests/" + id + "/logs");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  std::vector<json> lines = JsonLines(r->body);
  ASSERT_FALSE(lines.empty());
  auto first_index = [&](const std::string& needle, const std::string& task = "") {
    for (size_t i = 0; i < lines.size(); ++i) {
      if ((task.empty() || lines[i].value("task_id", "") == task) &&
          lines[i]["msg"].get<std::string>().find(needle) != std::string::npos) {
        return static_cast<long>(i);
      }
    }
    return -1L;
  };
  for (const auto& l : lines) {
    EXPECT_EQ(l["trace_id"], trace);
    EXPECT_EQ(l["request_id"], id);
  }
  const long claimed = first_index("claimed request");
  const long first_ok = first_index("task first succeeded", "first");
  const long retrying = first_index("task flaky failed (attempt 1 of 3), retrying", "flaky");
  const long flaky_ok = first_index("task flaky succeeded (attempt 2)", "flaky");
  const long broken = first_index("task broken failed", "broken");
  const long ended = first_index("request failed");
  EXPECT_GE(claimed, 0) << r->body;
  EXPECT_LT(claimed, first_ok) << r->body;
  EXPECT_LT(first_ok, retrying) << r->body;
  EXPECT_LT(retrying, flaky_ok) << r->body;
  EXPECT_LT(flaky_ok, broken) << r->body;
  EXPECT_LT(broken, ended) << r->body;
  EXPECT_NE(lines[broken]["msg"].get<std::string>().find("404"), std::string::npos)
      << lines[broken].dump();
  // Filters pass through the API.
  auto only_flaky = stack.Get("/v1/requests/" + id + "/logs?task_id=flaky&format=text");
  ASSERT_TRUE(only_flaky);
  ASSERT_EQ(only_flaky->status, 200);
  EXPECT_NE(only_flaky->body.find("retrying"), std::string::npos) << only_flaky->body;
  EXPECT_EQ(only_flaky->body.find("task broken"), std::string::npos);
  // A sealed request's follow stream ends by itself.
  auto follow = stack.Get("/v1/requests/" + id + "/logs?follow=1");
  ASSERT_TRUE(follow);
  EXPECT_EQ(JsonLines(follow->body).size(), lines.size());

  // A re-run keeps the trace: the trace's log holds both requests.
  auto rr = stack.Post("/v1/requests/" + id + "/rerun", {{"from", "failed"}});
  ASSERT_TRUE(rr);
  ASSERT_EQ(rr->status, 202) << rr->body;
  const std::string second = json::parse(rr->body)["request_id"];
  ASSERT_EQ(stack.WaitDone(second, 30s)["status"], "failed");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto seal = s.http().Get("/v1/requests/" + second + "/logs/seal");
        return seal && seal->status == 200;
      },
      20s));
  auto t = stack.Get("/v1/traces/" + trace + "/logs");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->status, 200);
  std::set<std::string> requests;
  for (const auto& l : JsonLines(t->body)) requests.insert(l["request_id"]);
  EXPECT_EQ(requests, (std::set<std::string>{id, second}));

  // The secret input is in no stored line, shipped or not, nor in the API's answers.
  for (const auto& entry : fs::recursive_directory_iterator(s.dir())) {
    if (entry.is_regular_file()) {
      EXPECT_EQ(ReadFile(entry.path().string()).find(secret), std::string::npos) << entry.path();
    }
  }
  EXPECT_EQ(stack.Logs().find(secret), std::string::npos);
  EXPECT_EQ(stack.Get("/v1/requests/" + id)->body.find(secret), std::string::npos);
}

// The log service dies in the middle of a request: the workflow completes anyway, lines sent
// once it is back are stored, and the drop counter says how many were lost in between.
TEST(LoggingEndToEnd, KillingTheLogServiceNeverStopsAWorkflow) {
  const int tcp = FreePort(), http_port = FreePort();
  const std::string store = MakeTempDir("wf-syslog-kill");
  const SyslogService::Env fixed = {{"WF_SYSLOG_TCP_PORT", std::to_string(tcp)},
                                    {"WF_SYSLOG_HTTP_PORT", std::to_string(http_port)},
                                    {"WF_SYSLOG_DIR", store}};
  auto s = std::make_unique<SyslogService>(fixed);
  ASSERT_FALSE(::testing::Test::HasFailure());
  Stack stack;
  stack.SetEnv("WF_LOGGING_SYSLOG_URL", "tcp://127.0.0.1:" + std::to_string(tcp));
  stack.SetEnv("WF_LOGGING_SYSLOG_QUEUE", "8");  // small: an outage overflows it
  stack.SetEnv("WF_API_LOGS_URL", "http://127.0.0.1:" + std::to_string(http_port));
  json tasks = json::array();
  tasks.push_back({{"id", "before"}, {"type", "noop"}});
  tasks.push_back({{"id", "pause"},
                   {"type", "wait"},
                   {"depends_on", {"before"}},
                   {"params", {{"seconds", 3}}}});
  json chain = {"pause"};
  for (int i = 0; i < 20; ++i) {
    std::string tid = "during" + std::to_string(i);
    tasks.push_back({{"id", tid}, {"type", "noop"}, {"depends_on", {"pause"}}});
  }
  json after_deps = json::array();
  for (int i = 0; i < 20; ++i) after_deps.push_back("during" + std::to_string(i));
  tasks.push_back(
      {{"id", "hold"}, {"type", "wait"}, {"depends_on", after_deps}, {"params", {{"seconds", 4}}}});
  tasks.push_back({{"id", "after"}, {"type", "noop"}, {"depends_on", {"hold"}}});
  stack.AddTemplate("outage", {{"name", "outage"}, {"tasks", tasks}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  const std::string id = stack.Submit("outage", json::object());
  // Once the request is logging, the service dies.
  ASSERT_TRUE(WaitFor([&] { return fs::exists(store + "/traces"); }, 20s)) << s->Log();
  ::kill(s->pid(), SIGKILL);
  // Lines keep coming while it is down (20 tasks), until the request waits in "hold".
  auto hold_status = [&] {
    auto got = stack.Get("/v1/requests/" + id);
    if (!got || got->status != 200) return std::string();
    const json request = json::parse(got->body);
    for (const auto& t : request["tasks"]) {
      if (t["id"] == "hold") return t["status"].get<std::string>();
    }
    return std::string();
  };
  ASSERT_TRUE(WaitFor([&] { return hold_status() == "waiting"; }, 30s)) << stack.Logs();
  // Back, on the same ports and store, while the request still runs.
  s = std::make_unique<SyslogService>(fixed);
  ASSERT_FALSE(::testing::Test::HasFailure());
  json done = stack.WaitDone(id, 60s);
  ASSERT_EQ(done["status"], "succeeded") << done.dump();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto seal = s->http().Get("/v1/requests/" + id + "/logs/seal");
        return seal && seal->status == 200;
      },
      30s))
      << s->Log() << stack.Logs();
  auto r = stack.Get("/v1/requests/" + id + "/logs?task_id=after");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("task after succeeded"), std::string::npos) << r->body;
  // What was lost is counted: the engine's drop counter in /metrics.
  std::string metrics;
  ASSERT_TRUE(WaitFor(
      [&] {
        metrics = stack.Get("/metrics")->body;
        auto at = metrics.find("wf_log_lines_dropped_total{service=\"engine\",id=\"engine-1\"} ");
        if (at == std::string::npos) return false;
        at = metrics.find(' ', at) + 1;
        return std::stol(metrics.substr(at, metrics.find('\n', at) - at)) > 0;
      },
      20s))
      << metrics;
}

// The engine's own frames, sent straight to a stock rsyslog, parse into the same fields.
TEST(LoggingEndToEnd, EngineFramesAreAcceptedByRsyslog) {
  Rsyslog rsyslog;
  ASSERT_FALSE(::testing::Test::HasFailure());
  Stack stack;
  stack.SetEnv("WF_LOGGING_SYSLOG_URL", "tcp://127.0.0.1:" + std::to_string(rsyslog.port()));
  stack.StartApi();
  Process& engine = stack.StartEngine("engine-1");
  const std::string id = stack.Submit("hello", {{"name", "rsyslog"}});
  json done = stack.WaitDone(id, 30s);
  ASSERT_EQ(done["status"], "succeeded");
  const std::string trace = done["trace_id"];
  const std::string ids = "[wf@32473 trace_id=\"" + trace + "\" request_id=\"" + id + "\"";
  std::string out;
  ASSERT_TRUE(WaitFor(
      [&] {
        out = ReadFile(rsyslog.out());
        return out.find("|seal|") != std::string::npos;
      },
      20s))
      << out << rsyslog.Log();
  // hostname|app|procid|msgid|severity|structured data|message
  const std::string engine_prefix = "|wf-engine|" + std::to_string(engine.pid()) + "|";
  EXPECT_NE(out.find(engine_prefix), std::string::npos) << out;
  EXPECT_NE(out.find(ids + " task_id=\"greet\"]|task greet succeeded"), std::string::npos) << out;
  EXPECT_NE(out.find("|info|" + ids + "]|request succeeded"), std::string::npos) << out;
  EXPECT_NE(out.find("|seal|"), std::string::npos) << out;
}

// wfctl logs reads a request's log through the API, and --follow streams it until the
// request ends.
TEST(LoggingEndToEnd, WfctlLogsAndFollow) {
  SyslogService s;
  ASSERT_FALSE(::testing::Test::HasFailure());
  Stack stack;
  stack.SetEnv("WF_LOGGING_SYSLOG_URL", "tcp://127.0.0.1:" + std::to_string(s.tcp()));
  stack.SetEnv("WF_API_LOGS_URL", "http://127.0.0.1:" + std::to_string(s.http_port()));
  stack.AddTemplate("slow", {{"name", "slow"},
                             {"tasks",
                              {{{"id", "first"}, {"type", "noop"}},
                               {{"id", "pause"},
                                {"type", "wait"},
                                {"depends_on", {"first"}},
                                {"params", {{"seconds", 2}}}},
                               {{"id", "last"}, {"type", "noop"}, {"depends_on", {"pause"}}}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  const std::string id = stack.Submit("slow", json::object());
  const std::string dir = MakeTempDir("wfctl-logs");
  std::map<std::string, std::string> env = {{"WF_API_URL", stack.api_url()},
                                            {"WF_TOKEN", stack.token("reader")}};
  // Started while the request runs: it prints lines as they come and ends with the request.
  Process follow("wfctl", WF_WFCTL_BIN, {"logs", id, "--follow"}, env, dir + "/follow.out");
  EXPECT_EQ(follow.Wait(60s), 0) << follow.Log();
  const std::string out = follow.Log();
  const size_t first = out.find("[first] task first succeeded");
  const size_t last = out.find("[last] task last succeeded");
  const size_t end = out.find("request succeeded");
  EXPECT_NE(first, std::string::npos) << out;
  EXPECT_NE(last, std::string::npos) << out;
  EXPECT_LT(first, last) << out;
  EXPECT_LT(last, end) << out;
  EXPECT_EQ(out.find("[first] task first succeeded", first + 1), std::string::npos)
      << "printed twice: " << out;
  // Without --follow, the sealed log once; --json gives the stored lines as they are.
  Process once("wfctl", WF_WFCTL_BIN, {"logs", id, "--json"}, env, dir + "/once.out");
  EXPECT_EQ(once.Wait(30s), 0) << once.Log();
  size_t lines = 0;
  for (const auto& l : JsonLines(once.Log())) {
    EXPECT_EQ(l["request_id"], id);
    ++lines;
  }
  EXPECT_GE(lines, 6u) << once.Log();
}

}  // namespace
}  // namespace wf::test
