// Log shipping from the real services to a syslog collector running inside the test: ids on
// every line about a request, order, the seal, secrets kept out, and a collector outage.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "harness.h"
#include "wf/syslog.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

// A syslog receiver on 127.0.0.1:<port>: TCP, RFC 6587 framing, frames parsed with
// ParseSyslog. Stop() closes the listener and every connection; Start() listens again on
// the same port.
class Collector {
 public:
  explicit Collector(int port) : port_(port) {}
  ~Collector() { Stop(); }

  void Start() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    ASSERT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
    ASSERT_EQ(::listen(listener_, 16), 0);
    stop_ = false;
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
  }

  std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

  struct Received {
    SyslogMessage msg;
    std::string raw;
  };
  std::vector<Received> Messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  std::vector<std::string> Errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

  // The index of the seal of `request_id`, or -1.
  int SealIndex(const std::string& request_id) {
    auto all = Messages();
    for (size_t i = 0; i < all.size(); ++i) {
      if (all[i].msg.msg_id == "seal" &&
          all[i].msg.Param(kSyslogSdId, "request_id") == request_id) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }

 private:
  void Run() {
    struct Conn {
      int fd;
      std::unique_ptr<SyslogFramer> framer;
    };
    std::vector<Conn> conns;
    char buf[16384];
    while (!stop_) {
      std::vector<pollfd> fds = {{listener_, POLLIN, 0}};
      for (const auto& c : conns) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) conns.push_back({fd, std::make_unique<SyslogFramer>()});
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        Conn& c = conns[i - 1];
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n <= 0) {
          ::close(c.fd);
          c.fd = -1;
          continue;
        }
        Status s = c.framer->Feed(std::string_view(buf, n), [&](std::string_view frame) {
          auto m = ParseSyslog(frame);
          std::lock_guard<std::mutex> lock(mu_);
          if (m.ok()) {
            received_.push_back({*m, std::string(frame)});
          } else {
            errors_.push_back(m.status().ToString());
          }
        });
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          errors_.push_back(s.ToString());
        }
      }
      conns.erase(
          std::remove_if(conns.begin(), conns.end(), [](const Conn& c) { return c.fd < 0; }),
          conns.end());
    }
    for (auto& c : conns) ::close(c.fd);
    ::close(listener_);
    listener_ = -1;
  }

  int port_;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Received> received_;
  std::vector<std::string> errors_;
};

const char* kSecret = "s3cr3t-Pa55w0rd!";

json SecretTemplate(const std::string& base) {
  json retry = {{"max_attempts", 3}, {"initial_delay_ms", 50}, {"multiplier", 2}};
  return {{"name", "shipped"},
          {"inputs",
           {{"type", "object"},
            {"required", {"user", "password"}},
            {"properties",
             {{"user", {{"type", "string"}}},
              {"password", {{"type", "string"}, {"x-secret", true}}}}}}},
          {"tasks",
           {{{"id", "first"},
             {"type", "noop"},
             {"params",
              {{"outputs", {{"greeting", "hello ${data.user}"}, {"pw", "${data.password}"}}}}}},
            {{"id", "flaky"},
             {"type", "http"},
             {"depends_on", {"first"}},
             {"retry", retry},
             {"params", {{"url", base + "/flaky"}}}},
            {{"id", "broken"},
             {"type", "http"},
             {"depends_on", {"flaky"}},
             {"params", {{"url", base + "/missing"}}}},
            {{"id", "never"}, {"type", "noop"}, {"depends_on", {"broken"}}}}}};
}

// Index of the first message of `request_id` whose text contains `text`; -1 when none.
int Find(const std::vector<Collector::Received>& all, const std::string& request_id,
         const std::string& text) {
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].msg.Param(kSyslogSdId, "request_id") == request_id &&
        all[i].msg.message.find(text) != std::string::npos) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

TEST(LogShipping, EveryLineOfARequestCarriesItsIdsAndTheSealComesLast) {
  TestHttpServer http;
  std::atomic<int> calls{0};
  http.server().Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls == 1) {
      res.status = 503;
      return;
    }
    res.set_content(R"({"ok": true})", "application/json");
  });
  http.server().Get("/missing",
                    [](const httplib::Request&, httplib::Response& res) { res.status = 404; });
  http.Start();
  Collector collector(FreePort());
  collector.Start();

  Stack stack;
  stack.SetEnv("WF_LOGGING_SYSLOG_URL", collector.url());
  stack.AddTemplate("shipped", SecretTemplate(http.url()));
  stack.StartApi();
  stack.StartEngine("engine-1");

  const std::string trace = "4f1c2a0e-8b7d-4e3a-9c61-2d5e7f8a9b0c";
  std::string id = stack.Submit("shipped", {{"user", "bob"}, {"password", kSecret}}, trace);
  json done = stack.WaitDone(id, 30s);
  ASSERT_EQ(done["status"], "failed") << done.dump(2);
  ASSERT_TRUE(WaitFor([&] { return collector.SealIndex(id) >= 0; }, 20s)) << stack.Logs();

  auto all = collector.Messages();
  EXPECT_TRUE(collector.Errors().empty()) << collector.Errors()[0];
  const int seal = collector.SealIndex(id);
  const std::set<std::string> tasks = {"first", "flaky", "broken", "never"};
  int about_request = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const SyslogMessage& m = all[i].msg;
    EXPECT_EQ(all[i].raw.find(kSecret), std::string::npos) << "secret shipped: " << all[i].raw;
    if (m.Param(kSyslogSdId, "request_id") != id) {
      // Lines about the request without its ids would be lost to its log.
      EXPECT_EQ(m.message.find(id), std::string::npos) << all[i].raw;
      continue;
    }
    about_request++;
    EXPECT_EQ(m.Param(kSyslogSdId, "trace_id"), trace) << all[i].raw;
    // The engine seals the log after its own last line about the request (lines of other
    // processes come over their own connections, in no order relative to it).
    if (m.app_name == "wf-engine") {
      EXPECT_LE(static_cast<int>(i), seal) << "a line after the seal: " << all[i].raw;
    }
    const std::string task = m.Param(kSyslogSdId, "task_id");
    if (!task.empty()) {
      EXPECT_TRUE(tasks.count(task)) << all[i].raw;
    }
    // "task <id> …" lines are tagged with that task.
    for (const auto& t : tasks) {
      if (m.message.rfind("task " + t + " ", 0) == 0) {
        EXPECT_EQ(task, t) << all[i].raw;
      }
    }
  }
  EXPECT_GE(about_request, 10);
  EXPECT_EQ(all[seal].msg.app_name, "wf-engine");
  EXPECT_EQ(all[seal].msg.Param(kSyslogSdId, "trace_id"), trace);

  // The story of the request, in order.
  std::vector<std::string> story = {"claimed request",
                                    "task first (noop) attempt 1 started",
                                    "task first succeeded (attempt 1)",
                                    "task flaky (http) attempt 1 started",
                                    "task flaky failed (attempt 1 of 3), retrying",
                                    "task flaky (http) attempt 2 started",
                                    "task flaky succeeded (attempt 2)",
                                    "task broken (http) attempt 1 started",
                                    "task broken failed (attempt 1)",
                                    "request failed: task 'broken' failed"};
  int last = -1;
  for (const auto& step : story) {
    int at = Find(all, id, step);
    ASSERT_GE(at, 0) << "no line '" << step << "'";
    EXPECT_GT(at, last) << "'" << step << "' out of order";
    last = at;
  }
  EXPECT_LT(last, seal);
  // The secret reached the task params, masked.
  int params = Find(all, id, "task first (noop) attempt 1 started");
  EXPECT_NE(all[params].msg.message.find("***"), std::string::npos) << all[params].raw;
  // Lines a task module logs through its context carry the task's ids too.
  bool module_line = false;
  for (const auto& r : all) {
    if (r.msg.Param(kSyslogSdId, "request_id") == id &&
        r.msg.Param(kSyslogSdId, "task_id") == "flaky" && r.msg.message.rfind("http ", 0) == 0) {
      module_line = true;
    }
  }
  EXPECT_TRUE(module_line) << "no line from the http module tagged with task flaky";

  // The API never shows the secret: not in the data, not in task outputs.
  auto r = stack.Get("/v1/requests/" + id);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->body.find(kSecret), std::string::npos) << r->body;
  json view = json::parse(r->body);
  EXPECT_EQ(view["data"]["password"], "***");
  EXPECT_EQ(view["data"]["user"], "bob");
  EXPECT_EQ(TaskById(view, "first")["outputs"]["pw"], "***");
  EXPECT_EQ(TaskById(view, "first")["outputs"]["greeting"], "hello bob");
  // Nor does any process's stderr.
  EXPECT_EQ(stack.Logs().find(kSecret), std::string::npos);
}

// The engine's log_shipping record from GET /v1/services once `pred` holds for it.
bool WaitForShipping(Stack& stack, const std::function<bool(const json&)>& pred) {
  return WaitFor(
      [&] {
        auto r = stack.Get("/v1/services");
        if (!r || r->status != 200) return false;
        json body = json::parse(r->body);
        for (const auto& s : body["services"]) {
          if (s.value("kind", "") == "engine" && s.contains("log_shipping") &&
              pred(s["log_shipping"])) {
            return true;
          }
        }
        return false;
      },
      20s);
}

TEST(LogShipping, ACollectorOutageLosesCountedLinesButNotTheWorkflow) {
  Collector collector(FreePort());
  collector.Start();
  // Tasks of the request call these to take the collector away and bring it back while
  // the request runs.
  TestHttpServer control;
  control.server().Get("/cut", [&](const httplib::Request&, httplib::Response& res) {
    collector.Stop();
    res.set_content("{}", "application/json");
  });
  control.server().Get("/restore", [&](const httplib::Request&, httplib::Response& res) {
    collector.Start();
    res.set_content("{}", "application/json");
  });
  control.Start();

  Stack stack;
  stack.SetEnv("WF_LOGGING_SYSLOG_URL", collector.url());
  stack.SetEnv("WF_LOGGING_SYSLOG_QUEUE", "16");
  auto chain = [](const std::string& prefix, int n, json* tasks, std::string* last) {
    for (int i = 0; i < n; ++i) {
      json t = {{"id", prefix + std::to_string(i)}, {"type", "noop"}};
      if (!last->empty()) t["depends_on"] = {*last};
      *last = t["id"];
      tasks->push_back(t);
    }
  };
  json small = json::array();
  std::string last;
  chain("step", 3, &small, &last);
  stack.AddTemplate("small", {{"name", "small"}, {"tasks", small}});
  json outage = json::array();
  last.clear();
  chain("before", 1, &outage, &last);
  outage.push_back({{"id", "cut"},
                    {"type", "http"},
                    {"depends_on", {last}},
                    {"params", {{"url", control.url() + "/cut"}}}});
  last = "cut";
  chain("during", 20, &outage, &last);
  outage.push_back({{"id", "restore"},
                    {"type", "http"},
                    {"depends_on", {last}},
                    {"params", {{"url", control.url() + "/restore"}}}});
  last = "restore";
  chain("after", 2, &outage, &last);
  stack.AddTemplate("outage", {{"name", "outage"}, {"tasks", outage}});
  stack.StartApi();
  stack.StartEngine("engine-1");

  // Up: every engine line of a request arrives (claim, start and end of 3 tasks, end,
  // seal).
  std::string first = stack.Submit("small", json::object());
  ASSERT_EQ(stack.WaitDone(first, 30s)["status"], "succeeded");
  ASSERT_TRUE(WaitFor([&] { return collector.SealIndex(first) >= 0; }, 20s)) << stack.Logs();
  int lines = 0;
  for (const auto& r : collector.Messages()) {
    lines += r.msg.app_name == "wf-engine" && r.msg.Param(kSyslogSdId, "request_id") == first;
  }
  EXPECT_EQ(lines, 9);
  // Drops so far (a burst at start may overflow the small queue).
  int64_t dropped_before = -1;
  ASSERT_TRUE(WaitForShipping(stack, [&](const json& s) {
    if (s.value("queued", -1) != 0 || s.value("sent", 0) < 9) return false;
    dropped_before = s.value("dropped", int64_t{0});
    return true;
  }));

  // The collector goes away in the middle of a request and comes back before its end.
  std::string id = stack.Submit("outage", json::object());
  json done = stack.WaitDone(id, 60s);
  ASSERT_EQ(done["status"], "succeeded") << "the outage stopped the work: " << done.dump(2);
  // Lines logged after the collector came back arrive, the seal last.
  ASSERT_TRUE(WaitFor([&] { return collector.SealIndex(id) >= 0; }, 20s)) << stack.Logs();
  auto all = collector.Messages();
  EXPECT_LT(Find(all, id, "task before0 succeeded"), collector.SealIndex(id));
  EXPECT_LT(Find(all, id, "claimed request"), Find(all, id, "task before0 succeeded"));
  // What did not fit in the queue meanwhile was dropped and counted, in the engine's
  // presence record and in /metrics; the shipper is connected again.
  EXPECT_TRUE(WaitForShipping(stack, [&](const json& s) {
    return s.value("dropped", int64_t{0}) > dropped_before && s.value("reconnects", 0) >= 1 &&
           s.value("connected", false);
  })) << stack.Get("/v1/services")->body;
  auto metrics = stack.Get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("wf_log_lines_dropped_total{service=\"engine\",id=\"engine-1\"}"),
            std::string::npos)
      << metrics->body;

  // A later request is shipped whole again.
  std::string later = stack.Submit("small", json::object());
  ASSERT_EQ(stack.WaitDone(later, 30s)["status"], "succeeded");
  ASSERT_TRUE(WaitFor([&] { return collector.SealIndex(later) >= 0; }, 20s)) << stack.Logs();
  lines = 0;
  for (const auto& r : collector.Messages()) {
    lines += r.msg.app_name == "wf-engine" && r.msg.Param(kSyslogSdId, "request_id") == later;
  }
  EXPECT_EQ(lines, 9);
}

TEST(LogShipping, ABadSyslogSettingStopsTheServiceWithTheSettingNamed) {
  std::string dir = MakeTempDir("wf-ship");
  for (const char* binary : {WF_API_BIN, WF_ENGINE_BIN}) {
    Process p("bad", binary, {}, {{"WF_LOGGING_SYSLOG_URL", "http://127.0.0.1:514"}},
              dir + "/bad.log");
    EXPECT_EQ(p.Wait(30s), 2) << p.Log();
    EXPECT_NE(p.Log().find("WF_LOGGING_SYSLOG_URL"), std::string::npos) << p.Log();
    EXPECT_NE(p.Log().find("tcp://host:port"), std::string::npos) << p.Log();
  }
  Process p("bad", WF_ENGINE_BIN, {}, {{"WF_LOGGING_REDACT_PATTERNS", "[\"ok\", \"(open\"]"}},
            dir + "/patterns.log");
  EXPECT_EQ(p.Wait(30s), 2) << p.Log();
  EXPECT_NE(p.Log().find("logging.redact_patterns[1]"), std::string::npos) << p.Log();
}

}  // namespace
}  // namespace wf::test
