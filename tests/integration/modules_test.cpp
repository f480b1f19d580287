// The exec, wait, http_poll and notify modules in one workflow, run by the real engine.
#include <signal.h>

#include <atomic>
#include <mutex>
#include <set>

#include "harness.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

// An exec step that adds `"<key>": true` to the JSON object it reads on stdin and says so
// on stderr.
json Enrich(const std::string& key) {
  return {
      {"argv",
       {"/bin/sh", "-c", "echo 'adding " + key + "' >&2; exec sed 's/}$/,\"" + key + "\":true}/'"}},
      {"env", {{"PATH", "/usr/bin:/bin"}}}};
}

TEST(Modules, ExecPipeWaitPollAndNotifyRunToSuccess) {
  TestHttpServer remote;
  std::atomic<int> polls{0};
  std::mutex mu;
  std::vector<json> hooks;
  remote.server().Get("/job", [&](const httplib::Request&, httplib::Response& res) {
    std::string state = ++polls < 3 ? "running" : "done";
    res.set_content(json({{"state", state}, {"id", "job-9"}}).dump(), "application/json");
  });
  remote.server().Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    hooks.push_back(json::parse(req.body));
    res.status = 200;
  });
  remote.Start();

  Stack stack;
  json step2 = Enrich("validated");
  step2["input"] = "${tasks.prepare.outputs}";
  json step3 = Enrich("approved");
  step3["input"] = "${tasks.validate.outputs}";
  stack.AddTemplate(
      "modules",
      {{"name", "modules"},
       {"tasks",
        {{{"id", "prepare"}, {"type", "exec"}, {"params", Enrich("prepared")}},
         {{"id", "validate"}, {"type", "exec"}, {"depends_on", {"prepare"}}, {"params", step2}},
         {{"id", "approve"}, {"type", "exec"}, {"depends_on", {"validate"}}, {"params", step3}},
         {{"id", "pause"}, {"type", "wait"}, {"params", {{"duration", "300ms"}}}},
         {{"id", "job"},
          {"type", "http_poll"},
          {"params",
           {{"url", "${data.base}/job"},
            {"success_when", "$${item.body.state} == 'done'"},
            {"failure_when", "$${item.body.state} == 'failed'"},
            {"interval", "100ms"},
            {"timeout", "1m"}}}},
         {{"id", "tell"},
          {"type", "notify"},
          {"depends_on", {"approve", "pause", "job"}},
          {"params",
           {{"webhook",
             {{"url", "${data.base}/hook"},
              {"body",
               {{"text", "request ${request.id} is through"},
                {"state", "${tasks.approve.outputs}"},
                {"job", "${tasks.job.outputs.body.id}"}}}}}}}}}},
       {"outputs",
        {{"state", "${tasks.approve.outputs}"},
         {"job_polls", "${tasks.job.outputs.polls}"},
         {"waited_until", "${tasks.pause.outputs.waited_until}"},
         {"notified", "${tasks.tell.outputs.status}"}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  std::string id = stack.Submit("modules", {{"base", remote.url()}, {"host", "web-1"}});
  json r = stack.WaitDone(id, 60s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2) << stack.Logs();

  json expected_state = {{"base", remote.url()},
                         {"host", "web-1"},
                         {"prepared", true},
                         {"validated", true},
                         {"approved", true}};
  EXPECT_EQ(r["outputs"]["state"], expected_state);
  EXPECT_EQ(r["outputs"]["job_polls"], 3);
  EXPECT_EQ(r["outputs"]["notified"], 200);
  EXPECT_TRUE(r["outputs"]["waited_until"].is_string());
  EXPECT_EQ(TaskById(r, "job")["status"], "succeeded");
  // The programs' stderr lines went to the task log.
  EXPECT_NE(stack.Logs().find("stderr: adding validated"), std::string::npos) << stack.Logs();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0], json({{"text", "request " + id + " is through"},
                            {"state", expected_state},
                            {"job", "job-9"}}));
}

TEST(Modules, AWaitTakenOverByAnotherEngineKeepsItsDeadline) {
  Stack stack;
  stack.AddTemplate(
      "pause", {{"name", "pause"},
                {"tasks", {{{"id", "pause"}, {"type", "wait"}, {"params", {{"duration", "3s"}}}}}},
                {"outputs", {{"until", "${tasks.pause.outputs.waited_until}"}}}});
  stack.SetEnv("WF_ENGINE_LEASE_MS", "1500");
  stack.StartApi();
  Process& first = stack.StartEngine("engine-a");
  std::string id = stack.Submit("pause", json::object());
  // The first engine saved the deadline; it dies without warning in the middle of the wait.
  json saved;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto g = stack.Get("/v1/requests/" + id);
        if (!g || g->status != 200) return false;
        saved = TaskById(json::parse(g->body), "pause")["state"]["wait"];
        return saved.is_object();
      },
      30s))
      << stack.Logs();
  first.Signal(SIGKILL);
  first.Wait(10s);
  stack.StartEngine("engine-b");
  json r = stack.WaitDone(id, 60s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
  EXPECT_EQ(stack.Sql("SELECT claims FROM requests WHERE id = '" + id + "'"), "2");
  // The second engine waited for the deadline the first one saved, not for a new one.
  EXPECT_EQ(TaskById(r, "pause")["state"]["wait"], saved);
  EXPECT_TRUE(r["outputs"]["until"].is_string());
}

TEST(Modules, InvalidModuleParamsAreReportedWithTheirPath) {
  Stack stack;
  stack.StartApi();
  json doc = {
      {"name", "bad_modules"},
      {"tasks",
       {{{"id", "run"}, {"type", "exec"}, {"params", {{"argv", {"/bin/true", 7}}}}},
        {{"id", "pause"}, {"type", "wait"}, {"params", {{"duration", "soon"}}}},
        {{"id", "poll"},
         {"type", "http_poll"},
         {"params", {{"url", "http://example.com/"}, {"success_when", "$${item.status} =="}}}},
        {{"id", "tell"},
         {"type", "notify"},
         {"params", {{"email", {{"smtp_url", "smtp://mail:25"}}}}}}}}};
  auto r = stack.Post("/v1/templates/validate", doc);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 422) << r->body;
  json body = json::parse(r->body);
  std::set<std::string> paths;
  for (const auto& e : body["errors"]) paths.insert(e["path"].get<std::string>());
  EXPECT_EQ(paths,
            (std::set<std::string>{"/tasks/0/params/argv/1", "/tasks/1/params/duration",
                                   "/tasks/2/params/success_when", "/tasks/3/params/email/from"}))
      << body.dump(2);
}

}  // namespace
}  // namespace wf::test
