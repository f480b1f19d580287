// ${secrets.<name>} against the real services: the value reaches the outside system, and
// never the request row, the task rows, the API's answers or any log.
#include <mutex>

#include "harness.h"

namespace wf::test {
namespace {

constexpr const char* kToken = "tfe-token-9f8e7d6c5b4a";
constexpr const char* kPassword = "awx-password-1a2b3c4d";

TEST(SecretsTest, ResolvedForTheCallAndNeverStoredShownOrLogged) {
  TestHttpServer http;
  std::mutex mu;
  std::string seen_auth, seen_body;
  http.server().Post("/api", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    seen_auth = req.get_header_value("Authorization");
    seen_body = req.body;
    // An outside system that echoes what it was sent.
    res.set_content(json{{"echo", req.get_header_value("Authorization")}}.dump(),
                    "application/json");
  });
  http.Start();

  const std::string dir = MakeTempDir("wf-secrets");
  WriteFile(dir + "/secrets.yaml", std::string("tfe_token: ") + kToken + "\n");
  Stack stack;
  stack.SetEnv("WF_SECRETS_FILE", dir + "/secrets.yaml");
  stack.SetEnv("WF_SECRET_AWX_PASSWORD", kPassword);
  stack.AddTemplate(
      "with_secrets",
      {{"name", "with_secrets"},
       {"tasks",
        {{{"id", "call"},
          {"type", "http"},
          {"params",
           {{"url", http.url() + "/api"},
            {"method", "POST"},
            {"headers", {{"Authorization", "Bearer ${secrets.tfe_token}"}}},
            {"body", {{"password", "${secrets.awx_password}"}}}}}},
         {{"id", "leak"},
          {"type", "set"},
          {"depends_on", {"call"}},
          {"params",
           {{"copied", "${secrets.tfe_token}"}, {"text", "pw=${secrets.awx_password}"}}}}}},
       {"outputs", {{"echo", "${tasks.call.outputs.body.echo}"}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  const std::string id = stack.Submit("with_secrets", json::object());
  json done = stack.WaitDone(id, std::chrono::seconds(30));
  ASSERT_EQ(done["status"], "succeeded") << done.dump() << stack.Logs();

  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(seen_auth, std::string("Bearer ") + kToken);
    EXPECT_EQ(json::parse(seen_body)["password"], kPassword);
  }
  // Outputs that would carry a secret carry *** instead, downstream too.
  EXPECT_EQ(TaskById(done, "leak")["outputs"]["copied"], "***");
  EXPECT_EQ(TaskById(done, "leak")["outputs"]["text"], "pw=***");
  EXPECT_EQ(done["outputs"]["echo"], "Bearer ***");

  auto r = stack.Get("/v1/requests/" + id);
  ASSERT_TRUE(r);
  const std::string rows =
      stack.Sql("SELECT row_to_json(r)::text FROM requests r") +
      stack.Sql("SELECT string_agg(row_to_json(t)::text, ',') FROM task_runs t");
  const std::string logs = stack.Logs();
  for (const char* secret : {kToken, kPassword}) {
    EXPECT_EQ(r->body.find(secret), std::string::npos) << secret;
    EXPECT_EQ(rows.find(secret), std::string::npos) << secret << " in " << rows;
    EXPECT_EQ(logs.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(logs.find("2 secrets: awx_password, tfe_token"), std::string::npos) << logs;
}

TEST(SecretsTest, AnUnknownSecretFailsTheTaskByName) {
  Stack stack;
  stack.AddTemplate("missing_secret",
                    {{"name", "missing_secret"},
                     {"tasks",
                      {{{"id", "s"},
                        {"type", "set"},
                        {"retry", {{"max_attempts", 3}, {"initial_delay_ms", 10}}},
                        {"params", {{"x", "${secrets.nope}"}}}}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  json done =
      stack.WaitDone(stack.Submit("missing_secret", json::object()), std::chrono::seconds(30));
  ASSERT_EQ(done["status"], "failed") << done.dump();
  json task = TaskById(done, "s");
  EXPECT_NE(task["error"].get<std::string>().find("no secret named 'nope'"), std::string::npos)
      << task.dump();
  EXPECT_EQ(task["attempts"], 1);
}

TEST(SecretsTest, ABadSecretsFileStopsTheEngineWithoutShowingValues) {
  const std::string dir = MakeTempDir("wf-secrets");
  WriteFile(dir + "/secrets.yaml", "Bad-Name: hunter2-value\n");
  Stack stack;
  stack.SetEnv("WF_SECRETS_FILE", dir + "/secrets.yaml");
  Process& engine = stack.StartEngine("engine-1");
  EXPECT_EQ(engine.Wait(std::chrono::seconds(30)), 1) << engine.Log();
  EXPECT_NE(engine.Log().find("'Bad-Name' is not a secret name"), std::string::npos)
      << engine.Log();
  EXPECT_EQ(engine.Log().find("hunter2-value"), std::string::npos);
}

}  // namespace
}  // namespace wf::test
