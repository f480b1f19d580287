// End to end: the real wf-api and wf-engine on a real PostgreSQL and Redis.
#include <signal.h>

#include <atomic>
#include <mutex>
#include <set>

#include "harness.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

TEST(Workflow, HelloSucceedsWithOutputsAndTaskRecords) {
  Stack stack;
  stack.StartApi();
  stack.StartEngine("engine-1");
  std::string id = stack.Submit("hello", {{"name", "world"}});
  json r = stack.WaitDone(id, 30s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
  EXPECT_EQ(r["outputs"]["greeting"], "Hello, world!");
  EXPECT_EQ(r["outputs"]["message"], "Hello, world! (loud) / Hello, world! (soft)");
  EXPECT_EQ(r["template"], "hello");
  EXPECT_EQ(r["data"], json({{"name", "world"}}));
  ASSERT_EQ(r["tasks"].size(), 4u);
  for (const auto& t : r["tasks"]) {
    EXPECT_EQ(t["status"], "succeeded") << t.dump();
    EXPECT_EQ(t["attempts"], 1) << t.dump();
    EXPECT_FALSE(t["started_at"].is_null());
    EXPECT_FALSE(t["finished_at"].is_null());
  }
  EXPECT_EQ(TaskById(r, "combine")["outputs"]["request"], id);
  EXPECT_FALSE(r["finished_at"].is_null());
  // The lease is given up when the request ends.
  EXPECT_EQ(stack.Sql("SELECT coalesce(owner, '') FROM requests WHERE id = '" + id + "'"), "");
  // The completion of a dependency is committed before its dependents start.
  EXPECT_EQ(stack.Sql("SELECT count(*) FROM task_runs a JOIN task_runs b USING (request_id) "
                      "WHERE a.task_id = 'greet' AND b.task_id IN ('shout', 'whisper') "
                      "AND b.started_at < a.finished_at"),
            "0");
}

TEST(Workflow, TraceIdIsKeptAndListable) {
  Stack stack;
  stack.StartApi();
  stack.StartEngine("engine-1");
  const std::string trace = "6f1c1b9e-3a52-4c9b-9d2e-5f4a3b2c1d0e";
  std::string a = stack.Submit("hello", {{"name", "a"}}, trace);
  std::string b = stack.Submit("hello", {{"name", "b"}}, trace);
  std::string other = stack.Submit("hello", {{"name", "c"}});
  EXPECT_EQ(stack.WaitDone(a, 30s)["trace_id"], trace);
  stack.WaitDone(b, 30s);
  json o = stack.WaitDone(other, 30s);
  EXPECT_NE(o["trace_id"], trace);

  auto r = stack.Get("/v1/requests?trace_id=" + trace);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json list = json::parse(r->body)["requests"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["request_id"], b);  // newest first
  EXPECT_EQ(list[1]["request_id"], a);

  r = stack.Get("/v1/requests?status=succeeded&template=hello&limit=1");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["requests"].size(), 1u);
  r = stack.Get("/v1/requests?status=failed");
  EXPECT_EQ(json::parse(r->body)["requests"].size(), 0u);
}

TEST(Workflow, HttpTemplateCallsTheServerAndChainsOutputs) {
  TestHttpServer inventory;
  std::mutex mu;
  std::vector<std::string> idempotency_keys;
  json stored;
  inventory.server().Post("/hosts", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    idempotency_keys.push_back(req.get_header_value("Idempotency-Key"));
    stored = json::parse(req.body);
    stored["id"] = "host-42";
    res.status = 201;
    res.set_content(stored.dump(), "application/json");
  });
  inventory.server().Get("/hosts/host-42", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    res.set_content(stored.dump(), "application/json");
  });
  inventory.Start();

  Stack stack;
  stack.StartApi();
  stack.StartEngine("engine-1");
  std::string id = stack.Submit("http_example",
                                {{"base_url", inventory.url()}, {"hostname", "web-1"}, {"cpu", 4}});
  json r = stack.WaitDone(id, 30s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
  EXPECT_EQ(r["outputs"], json({{"host_id", "host-42"}, {"hostname", "web-1"}, {"cpu", 4}}));
  EXPECT_EQ(TaskById(r, "register")["outputs"]["status"], 201);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(idempotency_keys.size(), 1u);
  EXPECT_EQ(idempotency_keys[0], id + "/register");
  EXPECT_EQ(stored["cpu"], 4);  // a whole-value expression keeps its JSON type
}

TEST(Workflow, FailingTaskFailsTheRequestAndSkipsTheRest) {
  TestHttpServer api;
  api.server().Get("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"ok": true})", "application/json");
  });
  api.server().Get("/missing", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content(R"({"error": "no such thing"})", "application/json");
  });
  api.Start();

  Stack stack;
  stack.AddTemplate(
      "breaks",
      {{"name", "breaks"},
       {"tasks",
        {{{"id", "first"}, {"type", "noop"}},
         {{"id", "broken"},
          {"type", "http"},
          {"depends_on", {"first"}},
          {"params", {{"url", "${data.base}/missing"}}}},
         {{"id", "after_broken"}, {"type", "noop"}, {"depends_on", {"broken"}}},
         {{"id", "sibling"},
          {"type", "http"},
          {"depends_on", {"first"}},
          {"params", {{"url", "${data.base}/ok"}}}},
         {{"id", "last"}, {"type", "noop"}, {"depends_on", {"sibling", "after_broken"}}}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  std::string id = stack.Submit("breaks", {{"base", api.url()}});
  json r = stack.WaitDone(id, 30s);
  ASSERT_EQ(r["status"], "failed") << r.dump(2);
  EXPECT_NE(r["error"].get<std::string>().find("broken"), std::string::npos) << r["error"];
  EXPECT_NE(r["error"].get<std::string>().find("404"), std::string::npos) << r["error"];
  EXPECT_EQ(TaskById(r, "first")["status"], "succeeded");
  EXPECT_EQ(TaskById(r, "broken")["status"], "failed");
  EXPECT_EQ(TaskById(r, "broken")["attempts"], 1);
  EXPECT_EQ(TaskById(r, "after_broken")["status"], "skipped");
  EXPECT_EQ(TaskById(r, "last")["status"], "skipped");
  // The sibling ran in parallel with the failing task; it either finished or was skipped
  // before it started, never left running.
  std::string sibling = TaskById(r, "sibling")["status"];
  EXPECT_TRUE(sibling == "succeeded" || sibling == "skipped") << sibling;
}

TEST(Workflow, RetryableFailuresAreRetriedWithBackoffOthersAreNot) {
  TestHttpServer flaky;
  std::atomic<int> calls{0}, missing{0};
  flaky.server().Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls <= 2) {
      res.status = 503;
      res.set_content(R"({"error": "busy"})", "application/json");
      return;
    }
    res.set_content(R"({"ok": true})", "application/json");
  });
  flaky.server().Get("/missing", [&](const httplib::Request&, httplib::Response& res) {
    ++missing;
    res.status = 404;
  });
  flaky.Start();
  json retry = {{"max_attempts", 4}, {"initial_delay_ms", 100}, {"multiplier", 2}};
  Stack stack;
  stack.AddTemplate("flaky", {{"name", "flaky"},
                              {"tasks",
                               {{{"id", "call"},
                                 {"type", "http"},
                                 {"retry", retry},
                                 {"params", {{"url", "${data.base}/${data.path}"}}}}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");

  json r = stack.WaitDone(stack.Submit("flaky", {{"base", flaky.url()}, {"path", "flaky"}}), 30s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
  EXPECT_EQ(r["tasks"][0]["attempts"], 3);
  EXPECT_EQ(calls.load(), 3);
  // The waits between attempts followed the backoff: 100 ms, then 200 ms (+/- 20 %).
  double ms =
      std::stod(stack.Sql("SELECT extract(epoch FROM finished_at - started_at) * 1000 "
                          "FROM task_runs WHERE task_id = 'call'"));
  EXPECT_GE(ms, 240) << "attempts came back sooner than the backoff allows";

  r = stack.WaitDone(stack.Submit("flaky", {{"base", flaky.url()}, {"path", "missing"}}), 30s);
  EXPECT_EQ(r["status"], "failed");
  EXPECT_EQ(r["tasks"][0]["attempts"], 1) << "a 404 is not retryable";
  EXPECT_EQ(missing.load(), 1);

  // A task can declare which statuses are worth another attempt: here the 404.
  stack.AddTemplate(
      "patient", {{"name", "patient"},
                  {"tasks",
                   {{{"id", "call"},
                     {"type", "http"},
                     {"retry", retry},
                     {"params", {{"url", flaky.url() + "/missing"}, {"retry_status", {404}}}}}}}});
  ASSERT_TRUE(WaitFor([&] { return stack.Get("/v1/templates/patient")->status == 200; }, 10s));
  r = stack.WaitDone(stack.Submit("patient", json::object()), 30s);
  EXPECT_EQ(r["status"], "failed");
  EXPECT_EQ(r["tasks"][0]["attempts"], 4);
  EXPECT_EQ(missing.load(), 5);
}

TEST(Workflow, TwoEnginesRunEachRequestExactlyOnce) {
  TestHttpServer counter;
  std::mutex mu;
  std::map<std::string, int> calls;  // idempotency key -> calls
  counter.server().Post("/work", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard<std::mutex> lock(mu);
      calls[req.get_header_value("Idempotency-Key")]++;
    }
    res.set_content(R"({"done": true})", "application/json");
  });
  counter.Start();

  Stack stack;
  stack.AddTemplate(
      "count",
      {{"name", "count"},
       {"tasks",
        {{{"id", "a"},
          {"type", "http"},
          {"params",
           {{"method", "POST"}, {"url", "${data.url}/work"}, {"body", {{"n", "${data.n}"}}}}}},
         {{"id", "b"}, {"type", "noop"}, {"depends_on", {"a"}}}}}});
  stack.SetEnv("WF_ENGINE_CLAIM_BATCH", "8");
  stack.StartApi();
  stack.StartEngine("engine-a");
  stack.StartEngine("engine-b");
  // Both engines are up (they announce themselves in Redis) before the load arrives.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = stack.Get("/v1/services");
        if (!r || r->status != 200) return false;
        int engines = 0;
        const json parsed1 = json::parse(r->body);
        for (const auto& s : parsed1["services"]) {
          if (s["kind"] == "engine" && (s["id"] == "engine-a" || s["id"] == "engine-b")) engines++;
        }
        return engines == 2;
      },
      30s))
      << stack.Logs();

  const int kRequests = 200;
  std::vector<std::string> ids;
  for (int i = 0; i < kRequests; ++i)
    ids.push_back(stack.Submit("count", {{"url", counter.url()}, {"n", i}}));
  for (const auto& id : ids) {
    json r = stack.WaitDone(id, 60s);
    ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
    for (const auto& t : r["tasks"]) EXPECT_EQ(t["attempts"], 1) << id << " " << t.dump();
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(calls.size(), static_cast<size_t>(kRequests));
  for (const auto& id : ids) EXPECT_EQ(calls[id + "/a"], 1) << id;
  // Each request was claimed once, and both engines took a share.
  EXPECT_EQ(stack.Sql("SELECT count(*) FROM requests WHERE claims <> 1"), "0");
  EXPECT_EQ(stack.Sql("SELECT max(epoch) FROM requests"), "1");
  // Presence is refreshed every few seconds; wait for both counters to be visible.
  std::string services;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = stack.Get("/v1/services");
        if (!s) return false;
        services = s->body;
        int total = 0, engines_with_work = 0;
        const json parsed = json::parse(services);
        for (const auto& svc : parsed["services"]) {
          if (svc["kind"] != "engine") continue;
          total += svc.value("claimed", 0);
          engines_with_work += svc.value("claimed", 0) > 0 ? 1 : 0;
        }
        return total == kRequests && engines_with_work == 2;
      },
      15s))
      << services;
}

TEST(Workflow, EngineExitsCleanlyOnSigterm) {
  Stack stack;
  stack.StartApi();
  Process& engine = stack.StartEngine("engine-1");
  std::string id = stack.Submit("hello", {{"name", "x"}});
  stack.WaitDone(id, 30s);
  engine.Signal(SIGTERM);
  EXPECT_EQ(engine.Wait(30s), 0) << engine.Log();
  EXPECT_EQ(stack.Sql("SELECT count(*) FROM requests WHERE owner IS NOT NULL"), "0");
}

}  // namespace
}  // namespace wf::test
