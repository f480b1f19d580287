// Submit idempotency, cancellation and re-runs, against the real services.
#include <atomic>

#include "harness.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

std::string TaskStatus(const json& r, const std::string& id) {
  for (const auto& t : r["tasks"]) {
    if (t["id"] == id) return t["status"];
  }
  return "missing";
}

bool WaitTemplate(Stack& stack, const std::string& name) {
  return WaitFor([&] { return stack.Get("/v1/templates/" + name)->status == 200; }, 10s);
}

TEST(Lifecycle, TheSameIdempotencyKeyReturnsTheOriginalRequest) {
  Stack stack;
  stack.StartApi();
  json body = {
      {"template", "hello"}, {"data", {{"name", "a"}}}, {"idempotency_key", "autoscale-42"}};
  auto first = stack.Post("/v1/requests", body);
  ASSERT_EQ(first->status, 202) << first->body;
  std::string id = json::parse(first->body)["request_id"];
  auto again = stack.Post("/v1/requests", body);
  ASSERT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(json::parse(again->body)["request_id"], id);
  body["data"]["name"] = "b";
  auto different = stack.Post("/v1/requests", body);
  EXPECT_EQ(different->status, 409) << different->body;
  EXPECT_EQ(json::parse(different->body)["error"]["code"], "idempotency_conflict");
  EXPECT_EQ(stack.Sql("SELECT count(*) FROM requests"), "1");
}

TEST(Lifecycle, CancellingAPendingRequestIsImmediateAndIdempotent) {
  Stack stack;
  stack.StartApi();  // no engine: the request stays pending
  std::string id = stack.Submit("hello", {{"name", "x"}});
  auto r = stack.Post("/v1/requests/" + id + "/cancel", json::object());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["status"], "cancelled");
  r = stack.Post("/v1/requests/" + id + "/cancel", json::object());
  EXPECT_EQ(json::parse(r->body)["status"], "cancelled");
  EXPECT_EQ(json::parse(stack.Get("/v1/requests/" + id)->body)["status"], "cancelled");
  // An engine that starts later never runs it.
  stack.StartEngine("engine-1");
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(stack.Sql("SELECT count(*) FROM task_runs"), "0");
  EXPECT_EQ(stack.Post("/v1/requests/6f1c1b9e-3a52-4c9b-9d2e-5f4a3b2c1d0e/cancel", json::object())
                ->status,
            404);
}

TEST(Lifecycle, CancellingARunningRequestStopsItAndRunsCleanup) {
  TestHttpServer jobs;
  jobs.server().Post("/jobs", [](const httplib::Request&, httplib::Response& res) {
    res.status = 201;
    res.set_content(R"({"id": "j1"})", "application/json");
  });
  jobs.server().Get("/jobs/j1", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"state": "running"})", "application/json");
  });
  jobs.Start();
  Stack stack;
  stack.AddTemplate(
      "endless",
      {{"name", "endless"},
       {"tasks",
        {{{"id", "wait"},
          {"type", "rest_job"},
          {"params",
           {{"create",
             {{"url", jobs.url() + "/jobs"}, {"body", json::object()}, {"job_id", "/id"}}},
            {"poll",
             {{"url", jobs.url() + "/jobs/{job_id}"},
              {"status", "/state"},
              {"success", {"done"}},
              {"failure", {"error"}},
              {"interval_ms", 100}}}}}},
         {{"id", "next"}, {"type", "noop"}, {"depends_on", {"wait"}}},
         {{"id", "cleanup"},
          {"type", "noop"},
          {"depends_on", {"wait"}},
          {"trigger", "all_done"}}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  std::string id = stack.Submit("endless", json::object());
  ASSERT_TRUE(WaitFor(
      [&] {
        return TaskStatus(json::parse(stack.Get("/v1/requests/" + id)->body), "wait") == "waiting";
      },
      20s));
  auto r = stack.Post("/v1/requests/" + id + "/cancel", json::object());
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(json::parse(r->body)["status"], "cancelling");
  json done = stack.WaitDone(id, 20s);
  EXPECT_EQ(done["status"], "cancelled") << done.dump(2);
  EXPECT_EQ(TaskStatus(done, "wait"), "cancelled");
  EXPECT_EQ(TaskStatus(done, "next"), "cancelled");
  EXPECT_EQ(TaskStatus(done, "cleanup"), "succeeded");
  EXPECT_EQ(
      json::parse(stack.Post("/v1/requests/" + id + "/cancel", json::object())->body)["status"],
      "cancelled");
}

TEST(Lifecycle, RerunFromFailedKeepsWhatSucceededAndKeepsTheTrace) {
  TestHttpServer api;
  std::atomic<int> created{0}, configured{0};
  api.server().Post("/create", [&](const httplib::Request&, httplib::Response& res) {
    ++created;
    res.set_content(R"({"id": "thing-1"})", "application/json");
  });
  api.server().Post("/configure", [&](const httplib::Request&, httplib::Response& res) {
    if (++configured == 1) {
      res.status = 409;  // not retryable: the first run fails here
      return;
    }
    res.set_content(R"({"ok": true})", "application/json");
  });
  api.Start();
  Stack stack;
  stack.AddTemplate(
      "two_step",
      {{"name", "two_step"},
       {"tasks",
        {{{"id", "create"},
          {"type", "http"},
          {"params",
           {{"method", "POST"}, {"url", api.url() + "/create"}, {"outputs", {{"id", "/id"}}}}}},
         {{"id", "configure"},
          {"type", "http"},
          {"depends_on", {"create"}},
          {"params",
           {{"method", "POST"},
            {"url", api.url() + "/configure"},
            {"body", {{"id", "${tasks.create.outputs.id}"}}}}}}}},
       {"outputs", {{"id", "${tasks.create.outputs.id}"}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  ASSERT_TRUE(WaitTemplate(stack, "two_step"));
  std::string first = stack.Submit("two_step", json::object());
  json r = stack.WaitDone(first, 20s);
  ASSERT_EQ(r["status"], "failed");
  // Not while... a running request cannot be re-run, an unknown field is refused.
  EXPECT_EQ(stack.Post("/v1/requests/" + first + "/rerun", {{"form", "failed"}})->status, 400);
  auto rr = stack.Post("/v1/requests/" + first + "/rerun", {{"from", "failed"}});
  ASSERT_EQ(rr->status, 202) << rr->body;
  json answer = json::parse(rr->body);
  EXPECT_EQ(answer["trace_id"], r["trace_id"]);
  EXPECT_EQ(answer["rerun_of"], first);
  json second = stack.WaitDone(answer["request_id"], 20s);
  EXPECT_EQ(second["status"], "succeeded") << second.dump(2);
  EXPECT_EQ(second["outputs"]["id"], "thing-1");
  EXPECT_EQ(second["rerun_of"], first);
  EXPECT_EQ(created.load(), 1) << "the task that had succeeded ran again";
  EXPECT_EQ(configured.load(), 2);
  // From the start, everything runs again.
  rr = stack.Post("/v1/requests/" + first + "/rerun", {{"from", "start"}});
  ASSERT_EQ(rr->status, 202);
  EXPECT_EQ(stack.WaitDone(json::parse(rr->body)["request_id"], 20s)["status"], "succeeded");
  EXPECT_EQ(created.load(), 2);
  // All three share the trace.
  json list =
      json::parse(stack.Get("/v1/requests?trace_id=" + r["trace_id"].get<std::string>())->body);
  EXPECT_EQ(list["requests"].size(), 3u);
}

TEST(Lifecycle, ARunningRequestCannotBeRerun) {
  Stack stack;
  stack.StartApi();
  std::string id = stack.Submit("hello", {{"name", "x"}});  // pending: no engine
  auto r = stack.Post("/v1/requests/" + id + "/rerun", json::object());
  EXPECT_EQ(r->status, 409) << r->body;
}

TEST(Lifecycle, ASignalTaskWaitsForApprovalWithoutAThread) {
  Stack stack;
  stack.AddTemplate("approval",
                    {{"name", "approval"},
                     {"tasks",
                      {{{"id", "plan"}, {"type", "noop"}},
                       {{"id", "approve"},
                        {"type", "signal"},
                        {"depends_on", {"plan"}},
                        {"params", {{"poll_ms", 100}}}},
                       {{"id", "deploy"},
                        {"type", "set"},
                        {"depends_on", {"approve"}},
                        {"params", {{"approved_by", "${tasks.approve.outputs.approver}"}}}}}},
                     {"outputs", {{"approved_by", "${tasks.deploy.outputs.approved_by}"}}}});
  stack.AddTemplate("timed_approval", {{"name", "timed_approval"},
                                       {"tasks",
                                        {{{"id", "approve"},
                                          {"type", "signal"},
                                          {"params", {{"poll_ms", 100}, {"wait_ms", 500}}}}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  ASSERT_TRUE(WaitTemplate(stack, "approval"));
  ASSERT_TRUE(WaitTemplate(stack, "timed_approval"));

  std::string id = stack.Submit("approval", json::object());
  ASSERT_TRUE(WaitFor(
      [&] {
        return TaskStatus(json::parse(stack.Get("/v1/requests/" + id)->body), "approve") ==
               "waiting";
      },
      20s));
  const std::string base = "/v1/requests/" + id + "/tasks/";
  ExpectError(stack.Post(base + "plan/signal", {{"outputs", json::object()}}), 404, "not_found",
              "/task_id");
  ExpectError(stack.Post(base + "approve/signal", {{"outputs", "yes"}}), 400, "invalid_request");
  auto r = stack.Post(base + "approve/signal", {{"outputs", {{"approver", "ann"}}}});
  ASSERT_EQ(r->status, 202) << r->body;
  json done = stack.WaitDone(id, 20s);
  EXPECT_EQ(done["status"], "succeeded") << done.dump(2);
  EXPECT_EQ(done["outputs"]["approved_by"], "ann");
  ExpectError(stack.Post(base + "approve/signal", {{"outputs", json::object()}}), 409,
              "not_running");

  // A refusal fails the task; no signal within wait_ms fails it too.
  id = stack.Submit("approval", json::object());
  ASSERT_TRUE(WaitFor(
      [&] {
        return TaskStatus(json::parse(stack.Get("/v1/requests/" + id)->body), "approve") ==
               "waiting";
      },
      20s));
  ASSERT_EQ(
      stack.Post("/v1/requests/" + id + "/tasks/approve/signal", {{"error", "rejected by bob"}})
          ->status,
      202);
  ExpectError(stack.Post("/v1/requests/" + id + "/tasks/approve/signal", {{"error", "again"}}), 409,
              "already_signalled");
  done = stack.WaitDone(id, 20s);
  EXPECT_EQ(done["status"], "failed");
  EXPECT_NE(done["error"].get<std::string>().find("rejected by bob"), std::string::npos)
      << done["error"];
  done = stack.WaitDone(stack.Submit("timed_approval", json::object()), 20s);
  EXPECT_EQ(done["status"], "failed");
  EXPECT_NE(done["error"].get<std::string>().find("no signal within 500 ms"), std::string::npos)
      << done["error"];
}

}  // namespace
}  // namespace wf::test
