// tfe_run and awx_job in the real engine, against doubles of Terraform Enterprise and AWX
// in the test process: the shipped tfe_workspace_run example, an AWX launch, and for both
// modules an engine killed (SIGKILL) while the remote job runs, whose successor finishes
// the workflow without a second run or launch.
#include <signal.h>

#include "awx_double.h"
#include "harness.h"
#include "tfe_double.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

json AwxTemplate(const std::string& name, const AwxDouble& awx) {
  return {{"name", name},
          {"version", "1"},
          {"tasks",
           {{{"id", "deploy"},
             {"type", "awx_job"},
             {"params",
              {{"address", awx.url()},
               {"token", "${secrets.awx_token}"},
               {"job_template", "deploy web"},
               {"extra_vars", {{"release", "${data.release}"}}},
               {"limit", "web*"},
               {"poll_interval_ms", 50}}}},
            {{"id", "record"},
             {"type", "set"},
             {"depends_on", {"deploy"}},
             {"params", {{"version", "${tasks.deploy.outputs.artifacts.version}"}}}}}},
          {"outputs",
           {{"job_id", "${tasks.deploy.outputs.job_id}"},
            {"version", "${tasks.record.outputs.version}"}}}};
}

json TfeTemplate(const std::string& name, const TfeDouble& tfe) {
  return {{"name", name},
          {"version", "1"},
          {"tasks",
           {{{"id", "run"},
             {"type", "tfe_run"},
             {"params",
              {{"address", tfe.url()},
               {"token", "${secrets.tfe_token}"},
               {"workspace_id", "ws-app"},
               {"files", {{"main.tf", "variable \"replicas\" {}\n"}}},
               {"variables", {{"replicas", "${data.replicas}"}}},
               {"poll_interval_ms", 50}}}}}},
          {"outputs", {{"run_id", "${tasks.run.outputs.run_id}"}}}};
}

TEST(ModulesTfeAwx, TheTfeWorkspaceRunExamplePlansAndApplies) {
  TfeDouble tfe;
  tfe.AddWorkspace("acme", "network-prod", "ws-7");
  tfe.SetStateOutputs("ws-7", {{"vpc_id", "vpc-42"}});
  Stack stack;
  // Which TFE and its token are the engine's secrets, not request data.
  stack.SetEnv("WF_SECRET_TFE_ADDRESS", tfe.url());
  stack.SetEnv("WF_SECRET_TFE_TOKEN", tfe.token());
  stack.StartApi();
  stack.StartEngine("engine-1");
  std::string id = stack.Submit("tfe_workspace_run", {{"organization", "acme"},
                                                      {"workspace", "network-prod"},
                                                      {"variables", {{"region", "eu-west-1"}}}});
  json r = stack.WaitDone(id, 90s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2) << stack.Logs();
  EXPECT_EQ(r["outputs"]["status"], "applied");
  EXPECT_EQ(r["outputs"]["has_changes"], true);
  EXPECT_EQ(r["outputs"]["outputs"], json({{"vpc_id", "vpc-42"}}));
  EXPECT_EQ(tfe.RunsCreated(), 1);
  EXPECT_EQ(tfe.Applies(), 1);
  json run = tfe.LastRunRequest()["data"];
  EXPECT_EQ(run["attributes"]["variables"],
            json::parse(R"([{"key": "region", "value": "\"eu-west-1\""}])"));
  EXPECT_EQ(run["attributes"]["message"],
            "network-prod run for request " + id + " [wf " + id + "/run]");
  // The token is a secret: it must not reach the logs.
  EXPECT_EQ(stack.Logs().find(tfe.token()), std::string::npos);
}

TEST(ModulesTfeAwx, AnAwxJobRunsToSuccessAndFeedsItsArtifactsDownstream) {
  AwxDouble awx;
  awx.AddTemplate(12, "deploy web");
  awx.SetArtifacts({{"version", "2.0.1"}});
  Stack stack;
  stack.SetEnv("WF_SECRET_AWX_TOKEN", awx.token());
  stack.AddTemplate("awx_deploy", AwxTemplate("awx_deploy", awx));
  stack.StartApi();
  stack.StartEngine("engine-1");
  json r = stack.WaitDone(stack.Submit("awx_deploy", {{"release", "2.0.1"}}), 60s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2) << stack.Logs();
  EXPECT_EQ(r["outputs"]["version"], "2.0.1");
  EXPECT_EQ(r["outputs"]["job_id"], 101);
  EXPECT_EQ(awx.Launches(), 1);
  EXPECT_EQ(awx.LastLaunchBody(),
            json({{"extra_vars", {{"release", "2.0.1"}}}, {"limit", "web*"}}));
}

TEST(ModulesTfeAwx, AFailedAwxJobFailsTheRequestWithItsOutput) {
  AwxDouble awx;
  awx.AddTemplate(12, "deploy web");
  awx.SetOutcome("failed");
  awx.SetStdout("TASK [deploy] ***\nfatal: [web1]: FAILED! => {\"msg\": \"disk full\"}\n");
  Stack stack;
  stack.SetEnv("WF_SECRET_AWX_TOKEN", awx.token());
  stack.AddTemplate("awx_deploy", AwxTemplate("awx_deploy", awx));
  stack.StartApi();
  stack.StartEngine("engine-1");
  json r = stack.WaitDone(stack.Submit("awx_deploy", {{"release", "2.0.1"}}), 60s);
  ASSERT_EQ(r["status"], "failed") << r.dump(2);
  std::string error = TaskById(r, "deploy")["error"];
  EXPECT_NE(error.find("ended failed"), std::string::npos) << error;
  EXPECT_NE(error.find("disk full"), std::string::npos) << error;
  EXPECT_EQ(awx.Launches(), 1);
}

// Kills the engine while the remote job is held running, starts another one, lets it see
// the held job, then releases it.
template <typename Double>
void KillWhileHeld(Stack& stack, Process& first, Double& remote) {
  ASSERT_TRUE(remote.WaitHeld(60s)) << stack.Logs();
  first.Signal(SIGKILL);
  first.Wait(10s);
  remote.Rehold();
  stack.StartEngine("engine-b");
  ASSERT_TRUE(remote.WaitHeld(60s)) << "the new engine does not poll the job" << stack.Logs();
  remote.Release();
}

TEST(ModulesTfeAwx, AKilledEngineDoesNotCreateASecondTerraformRun) {
  TfeDouble tfe;
  tfe.AddWorkspace("acme", "app", "ws-app");
  tfe.Hold("planning");
  Stack stack;
  stack.SetEnv("WF_SECRET_TFE_TOKEN", tfe.token());
  stack.AddTemplate("tfe_app", TfeTemplate("tfe_app", tfe));
  stack.SetEnv("WF_ENGINE_LEASE_MS", "2000");
  stack.StartApi();
  Process& first = stack.StartEngine("engine-a");
  std::string id = stack.Submit("tfe_app", {{"replicas", 3}});
  KillWhileHeld(stack, first, tfe);
  json r = stack.WaitDone(id, 90s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2) << stack.Logs();
  EXPECT_EQ(tfe.RunsCreated(), 1);
  EXPECT_EQ(tfe.Count("create_run"), 1);
  EXPECT_EQ(tfe.Applies(), 1);
  EXPECT_EQ(tfe.Count("create_cv"), 1);
  EXPECT_EQ(tfe.RunStatus(r["outputs"]["run_id"]), "applied");
  EXPECT_EQ(stack.Sql("SELECT claims FROM requests WHERE id = '" + id + "'"), "2");
  EXPECT_EQ(TaskById(r, "run")["state"]["run_id"], r["outputs"]["run_id"]);
}

TEST(ModulesTfeAwx, AKilledEngineDoesNotLaunchASecondAwxJob) {
  AwxDouble awx;
  awx.AddTemplate(12, "deploy web");
  awx.SetArtifacts({{"version", "3.1"}});
  awx.Hold();
  Stack stack;
  stack.SetEnv("WF_SECRET_AWX_TOKEN", awx.token());
  stack.AddTemplate("awx_deploy", AwxTemplate("awx_deploy", awx));
  stack.SetEnv("WF_ENGINE_LEASE_MS", "2000");
  stack.StartApi();
  Process& first = stack.StartEngine("engine-a");
  std::string id = stack.Submit("awx_deploy", {{"release", "3.1"}});
  KillWhileHeld(stack, first, awx);
  json r = stack.WaitDone(id, 90s);
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2) << stack.Logs();
  EXPECT_EQ(r["outputs"]["version"], "3.1");
  EXPECT_EQ(awx.Launches(), 1);
  EXPECT_EQ(awx.Count("launch"), 1);
  EXPECT_EQ(awx.JobStatus(101), "successful");
  EXPECT_EQ(stack.Sql("SELECT claims FROM requests WHERE id = '" + id + "'"), "2");
}

TEST(ModulesTfeAwx, CancellingTheRequestBetweenPollsCancelsTheAwxJob) {
  AwxDouble awx;
  awx.AddTemplate(12, "deploy web");
  awx.Hold();
  Stack stack;
  stack.SetEnv("WF_SECRET_AWX_TOKEN", awx.token());
  stack.AddTemplate("awx_deploy", AwxTemplate("awx_deploy", awx));
  stack.StartApi();
  stack.StartEngine("engine-1");
  std::string id = stack.Submit("awx_deploy", {{"release", "3.2"}});
  ASSERT_TRUE(awx.WaitHeld(30s)) << stack.Logs();
  auto c = stack.Post("/v1/requests/" + id + "/cancel", json::object());
  ASSERT_TRUE(c);
  ASSERT_EQ(c->status, 202) << c->body;
  json r = stack.WaitDone(id, 30s);
  EXPECT_EQ(r["status"], "cancelled") << r.dump(2);
  EXPECT_EQ(TaskById(r, "deploy")["status"], "cancelled");
  EXPECT_EQ(awx.Launches(), 1);
  EXPECT_EQ(awx.Count("cancel"), 1) << stack.Logs();
}

}  // namespace
}  // namespace wf::test
