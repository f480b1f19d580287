// tfe_run and awx_job against doubles of the Terraform Enterprise and AWX APIs: the call
// sequences, every failure class, restarts in the middle (a fresh context over the same
// task state) and param errors.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "awx_double.h"
#include "builtin.h"
#include "config_archive.h"
#include "task_fixture.h"
#include "tfe_double.h"

namespace wf {
namespace {

using Kind = TaskOutcome::Kind;
using test::AwxDouble;
using test::TaskFixture;
using test::TfeDouble;

// Invokes the task until it is no longer pending (as the engine would, without the waits).
TaskOutcome Drive(TaskFixture& f, const Task& task, const json& params, int max_calls = 200) {
  TaskOutcome o;
  for (int i = 0; i < max_calls; ++i) {
    o = f.Invoke(task, params);
    if (o.kind != Kind::kPending) return o;
  }
  return o;
}

// Invokes until `pred` holds on the state (the task still pending), at most `max_calls`.
bool DriveUntil(TaskFixture& f, const Task& task, const json& params,
                const std::function<bool(const test::MemoryTaskState&)>& pred,
                int max_calls = 200) {
  for (int i = 0; i < max_calls; ++i) {
    if (pred(f.state)) return true;
    TaskOutcome o = f.Invoke(task, params);
    if (o.kind != Kind::kPending) {
      ADD_FAILURE() << "the task ended early: " << o.error << o.outputs.dump();
      return false;
    }
  }
  return pred(f.state);
}

bool HasKey(const test::MemoryTaskState& s, const std::string& key) {
  return s.values().count(key) > 0;
}

// A loopback port nothing listens on (bound for a moment, never listened on).
std::string DeadUrl() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return "http://127.0.0.1:" + std::to_string(port);
}

TEST(ConfigArchive, RefusesPathsOutsideTheArchiveAndOversizedInput) {
  for (std::string bad : {"", "/etc/passwd", "../x.tf", "a/../../x.tf", "a//b.tf", "./a.tf"}) {
    auto r = TarGzFromFiles({{bad, "x"}});
    EXPECT_FALSE(r.ok()) << bad;
  }
  auto big =
      TarGzFromFiles({{"a.tf", std::string(600, 'a')}, {"b.tf", std::string(600, 'b')}}, 1000);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("larger than 1000 bytes"), std::string::npos);
  // The same files give the same bytes: a rebuilt archive after a restart is identical.
  auto a = TarGzFromFiles({{"main.tf", "x"}, {"b/c.tf", "y"}});
  auto b = TarGzFromFiles({{"b/c.tf", "y"}, {"main.tf", "x"}});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->substr(0, 2), "\x1f\x8b");            // gzip
  EXPECT_EQ(a->substr(4, 4), std::string(4, '\0'));  // with no time in its header
}

class TfeRun : public ::testing::Test {
 protected:
  void SetUp() override { tfe_.AddWorkspace("acme", "network", "ws-net"); }
  json Params() const {
    return {{"address", tfe_.url()},
            {"token", tfe_.token()},
            {"workspace_id", "ws-net"},
            {"files", {{"main.tf", "variable \"size\" {}\n"}, {"modules/a/x.tf", "# x\n"}}},
            {"variables", {{"size", 3}, {"name", "blue"}, {"tags", {"a", "b"}}}},
            {"poll_interval_ms", 10}};
  }
  TfeDouble tfe_;
  std::unique_ptr<Task> task_ = MakeTfeRunTask();
};

TEST_F(TfeRun, UploadsPlansAndAppliesOnce) {
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error << "\n" << f.Log();
  EXPECT_EQ(o.outputs["status"], "applied");
  EXPECT_EQ(o.outputs["has_changes"], true);
  EXPECT_EQ(o.outputs["workspace_id"], "ws-net");
  std::string run_id = o.outputs["run_id"];
  std::string cv_id = o.outputs["configuration_version_id"];
  EXPECT_EQ(tfe_.RunStatus(run_id), "applied");
  EXPECT_EQ(tfe_.RunsCreated(), 1);
  EXPECT_EQ(tfe_.Applies(), 1);
  EXPECT_EQ(tfe_.Count("upload"), 1);
  auto files = tfe_.Uploaded(cv_id);
  EXPECT_EQ(files, (std::map<std::string, std::string>{{"main.tf", "variable \"size\" {}\n"},
                                                       {"modules/a/x.tf", "# x\n"}}));
  json run = tfe_.LastRunRequest()["data"];
  EXPECT_EQ(run["relationships"]["configuration-version"]["data"]["id"], cv_id);
  EXPECT_EQ(run["relationships"]["workspace"]["data"]["id"], "ws-net");
  json vars = run["attributes"]["variables"];
  EXPECT_EQ(vars, json::parse(R"([{"key":"name","value":"\"blue\""},{"key":"size","value":"3"},
                                  {"key":"tags","value":"[\"a\",\"b\"]"}])"));
  EXPECT_NE(run["attributes"]["message"].get<std::string>().find("[wf req-1/t1]"),
            std::string::npos);
  EXPECT_FALSE(run["attributes"].contains("auto-apply"));
  // The ids and the step are in the state; the upload URL is gone after the upload.
  EXPECT_EQ(f.state.values().at("run_id"), run_id);
  EXPECT_EQ(f.state.values().at("configuration_version_id"), cv_id);
  EXPECT_FALSE(HasKey(f.state, "upload_url"));
  EXPECT_EQ(f.Log().find(tfe_.token()), std::string::npos) << "the token was logged";
}

TEST_F(TfeRun, WorkspaceByNameAutoApplyAndStateOutputs) {
  tfe_.SetStateOutputs("ws-net", {{"vpc_id", "vpc-9"}, {"cidrs", {"10.0.0.0/16"}}});
  json p = Params();
  p.erase("workspace_id");
  p["organization"] = "acme";
  p["workspace"] = "network";
  p["auto_apply"] = true;
  p["state_outputs"] = true;
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, p);
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs["status"], "applied");
  EXPECT_EQ(o.outputs["outputs"], json({{"vpc_id", "vpc-9"}, {"cidrs", {"10.0.0.0/16"}}}));
  EXPECT_EQ(tfe_.Count("workspace"), 1);
  EXPECT_EQ(tfe_.Applies(), 0) << "auto-apply runs need no apply call";
  EXPECT_EQ(tfe_.LastRunRequest()["data"]["attributes"]["auto-apply"], true);
  EXPECT_FALSE(tfe_.LastRunRequest()["data"]["attributes"].contains("is-destroy"));
  EXPECT_EQ(f.state.values().at("workspace_id"), "ws-net");
}

TEST_F(TfeRun, UploadsADirectoryWithoutItsTerraformAndGitFolders) {
  auto dir = std::filesystem::temp_directory_path() / ("wf-tfe-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "modules" / "vpc");
  std::filesystem::create_directories(dir / ".terraform" / "providers");
  std::filesystem::create_directories(dir / ".git");
  std::ofstream(dir / "main.tf") << "module \"vpc\" { source = \"./modules/vpc\" }\n";
  std::ofstream(dir / "modules" / "vpc" / "main.tf") << "# vpc\n";
  std::ofstream(dir / "empty.tfvars");
  std::ofstream(dir / ".terraform" / "providers" / "big") << "binary";
  std::ofstream(dir / ".git" / "HEAD") << "ref";
  json p = Params();
  p.erase("files");
  p["directory"] = dir.string();
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, p);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  auto files = tfe_.Uploaded(o.outputs["configuration_version_id"]);
  EXPECT_EQ(files, (std::map<std::string, std::string>{
                       {"empty.tfvars", ""},
                       {"main.tf", "module \"vpc\" { source = \"./modules/vpc\" }\n"},
                       {"modules/vpc/main.tf", "# vpc\n"}}));
}

TEST_F(TfeRun, AMissingDirectoryFailsNamingTheParam) {
  json p = Params();
  p.erase("files");
  p["directory"] = "/nonexistent/wf-config";
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, p);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("params.directory"), std::string::npos) << o.error;
  EXPECT_EQ(tfe_.Count("upload"), 0);
}

TEST_F(TfeRun, ADestroyRunIsCreatedAsOne) {
  json p = Params();
  p["destroy"] = true;
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, p);
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(tfe_.LastRunRequest()["data"]["attributes"]["is-destroy"], true);
}

TEST_F(TfeRun, RunsWaitingAfterCostEstimationOrPolicyChecksAreApplied) {
  for (std::string status : {"cost_estimated", "policy_checked"}) {
    tfe_.PlannedStatus(status);
    TaskFixture f;
    TaskOutcome o = Drive(f, *task_, Params());
    ASSERT_EQ(o.kind, Kind::kSucceeded) << status << ": " << o.error;
    EXPECT_EQ(o.outputs["status"], "applied");
  }
  EXPECT_EQ(tfe_.Applies(), 2);
}

TEST_F(TfeRun, NoChangesFinishesWithoutApply) {
  tfe_.NoChanges(true);
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs["status"], "planned_and_finished");
  EXPECT_EQ(o.outputs["has_changes"], false);
  EXPECT_EQ(tfe_.Applies(), 0);
}

TEST_F(TfeRun, ErroredRunsFailForGood) {
  for (std::string phase : {"plan", "apply"}) {
    tfe_.ErrorRuns(phase);
    TaskFixture f;
    TaskOutcome o = Drive(f, *task_, Params());
    ASSERT_EQ(o.kind, Kind::kFailed) << phase;
    EXPECT_FALSE(o.retryable);
    EXPECT_NE(o.error.find("ended errored"), std::string::npos) << o.error;
  }
  EXPECT_EQ(tfe_.Applies(), 1);  // only the run that errored in its apply got one
}

TEST_F(TfeRun, ServerErrorsAreRetriedOnTheSameCall) {
  tfe_.Fail("create_run", 503, 2);
  tfe_.Fail("get_run", 429, 1);
  tfe_.Fail("upload", 500, 1);
  TaskFixture f;
  json p = Params();
  std::vector<TaskOutcome> pendings;
  TaskOutcome o;
  for (int i = 0; i < 200; ++i) {
    o = f.Invoke(*task_, p);
    if (o.kind != Kind::kPending) break;
    pendings.push_back(o);
  }
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(tfe_.Count("create_run"), 3);
  EXPECT_EQ(tfe_.RunsCreated(), 1);
  // After a 5xx the run may exist: the workspace's runs are looked at before creating again.
  EXPECT_EQ(tfe_.Count("list_runs"), 2);
  EXPECT_EQ(tfe_.Count("upload"), 2);
  EXPECT_FALSE(HasKey(f.state, "retries")) << "the retry count is reset after a call passes";
  // Backoff grows: 10 ms, then 20 ms for the second 503 in a row (the lookups in between
  // are rechecked at once).
  std::vector<int64_t> waits;
  for (const auto& p : pendings) {
    if (p.recheck_after.count() > 0) waits.push_back(p.recheck_after.count());
  }
  bool saw_backoff = false;
  for (size_t i = 1; i < waits.size(); ++i) saw_backoff |= waits[i - 1] == 10 && waits[i] == 20;
  EXPECT_TRUE(saw_backoff) << [&] {
    std::string d;
    for (const auto& p : pendings) d += std::to_string(p.recheck_after.count()) + " ";
    return d;
  }();
  EXPECT_NE(f.Log().find("HTTP 503"), std::string::npos) << f.Log();
}

TEST_F(TfeRun, RefusedCallsFailWithTheJsonApiDetail) {
  tfe_.Fail("create_run", 422, 1, "variable \"size\" is not a number");
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("HTTP 422: injected failure: variable \"size\" is not a number"),
            std::string::npos)
      << o.error;
  EXPECT_EQ(tfe_.RunsCreated(), 0);

  json p = Params();
  p["token"] = "wrong";
  TaskFixture g;
  o = Drive(g, *task_, p);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("HTTP 401: unauthorized"), std::string::npos) << o.error;
  EXPECT_EQ(o.error.find("wrong"), std::string::npos);

  p = Params();
  p.erase("workspace_id");
  p["organization"] = "acme";
  p["workspace"] = "nope";
  TaskFixture h;
  o = Drive(h, *task_, p);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("looking up workspace acme/nope: HTTP 404: not found"), std::string::npos)
      << o.error;
}

TEST_F(TfeRun, ConnectionErrorsBackOffThenFailRetryably) {
  json p = Params();
  p["address"] = DeadUrl();
  p["max_retries"] = 3;
  TaskFixture f;
  int pendings = 0;
  TaskOutcome o;
  while ((o = f.Invoke(*task_, p)).kind == Kind::kPending) ++pendings;
  EXPECT_EQ(pendings, 3);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable);
  EXPECT_NE(o.error.find("still failing after 3 tries"), std::string::npos) << o.error;
}

TEST_F(TfeRun, ARestartInTheMiddleResumesWithoutASecondRunOrApply) {
  tfe_.Hold("applying");
  TaskFixture f;
  ASSERT_TRUE(DriveUntil(f, *task_, Params(),
                         [](const auto& s) { return s.values().count("apply_sent") > 0; }));
  // Another engine takes over with the saved state only.
  TaskFixture g;
  g.state = f.state;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(g.Invoke(*task_, Params()).kind, Kind::kPending);
  tfe_.Release();
  TaskOutcome o = Drive(g, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs["run_id"], f.state.values().at("run_id"));
  EXPECT_EQ(tfe_.RunsCreated(), 1);
  EXPECT_EQ(tfe_.Applies(), 1);
  EXPECT_EQ(tfe_.Count("create_cv"), 1);
  EXPECT_EQ(tfe_.Count("upload"), 1);
}

TEST_F(TfeRun, ALostCreateAnswerFindsTheRunInsteadOfCreatingAnother) {
  TaskFixture f;
  ASSERT_TRUE(DriveUntil(f, *task_, Params(),
                         [](const auto& s) { return s.values().count("run_id") > 0; }));
  // As if the engine died after POST /api/v2/runs and before saving its answer.
  TaskFixture g;
  g.state = f.state;
  ASSERT_TRUE(g.state.Erase("run_id").ok());
  TaskOutcome o = Drive(g, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(tfe_.Count("list_runs"), 1);
  EXPECT_EQ(tfe_.RunsCreated(), 1);
  EXPECT_EQ(o.outputs["run_id"], f.state.values().at("run_id"));
  EXPECT_NE(g.Log().find("found the run created before the restart"), std::string::npos);
}

TEST_F(TfeRun, A5xxAfterTheRunWasCreatedDoesNotCreateASecondOne) {
  tfe_.Fail("create_run_lost", 502);
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(tfe_.Count("create_run"), 1);
  EXPECT_EQ(tfe_.Count("list_runs"), 1);
  EXPECT_EQ(tfe_.RunsCreated(), 1);
  EXPECT_EQ(tfe_.Applies(), 1);
}

TEST_F(TfeRun, ALostApplyAnswerIsNotAnError) {
  TaskFixture f;
  ASSERT_TRUE(DriveUntil(f, *task_, Params(),
                         [](const auto& s) { return s.values().count("apply_sent") > 0; }));
  ASSERT_TRUE(f.state.Erase("apply_sent").ok());  // the apply went out, its answer was lost
  TaskOutcome o = Drive(f, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(tfe_.Applies(), 1);
  EXPECT_EQ(tfe_.Count("apply"), 2);  // the repeat got 409 and was taken as done
}

TEST_F(TfeRun, CancellingAStartedRunCancelsItRemotely) {
  tfe_.Hold("planning");
  TaskFixture f;
  ASSERT_TRUE(DriveUntil(f, *task_, Params(),
                         [](const auto& s) { return s.values().count("run_id") > 0; }));
  f.cancelled = true;
  TaskOutcome o = f.Invoke(*task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("cancelled; asked Terraform to cancel run"), std::string::npos) << o.error;
  EXPECT_EQ(tfe_.RunStatus(f.state.values().at("run_id")), "canceled");
  EXPECT_EQ(tfe_.Count("cancel.ok"), 1);
}

TEST_F(TfeRun, WithoutItsStateTheTaskCallsNothing) {
  TaskFixture f;
  f.state.fail_reads = true;
  TaskOutcome o = f.Invoke(*task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable);
  EXPECT_NE(o.error.find("task state unavailable"), std::string::npos) << o.error;
  EXPECT_EQ(tfe_.Count("create_cv"), 0);
  // State that cannot be written: the run is not created, since its marker cannot be kept.
  f.state.fail_reads = false;
  ASSERT_TRUE(DriveUntil(f, *task_, Params(), [](const auto& s) {
    return s.values().count("configuration_ready") > 0;
  }));
  f.state.fail_writes = true;
  o = f.Invoke(*task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable);
  EXPECT_EQ(tfe_.Count("create_run"), 0);
  f.state.fail_writes = false;
  o = Drive(f, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(tfe_.RunsCreated(), 1);
}

TEST_F(TfeRun, ACancelThatComesDuringAPollCancelsTheRun) {
  tfe_.Hold("planning");
  TaskFixture f;
  ASSERT_TRUE(DriveUntil(f, *task_, Params(),
                         [](const auto& s) { return s.values().count("run_id") > 0; }));
  tfe_.OnCall("get_run", [&] { f.cancelled = true; });
  TaskOutcome o = f.Invoke(*task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("asked Terraform to cancel run"), std::string::npos) << o.error;
  EXPECT_EQ(tfe_.RunStatus(f.state.values().at("run_id")), "canceled");
}

TEST_F(TfeRun, ParamsAreCheckedWithTheirPath) {
  auto check = [&](json p, const std::string& path, const std::string& message) {
    Status s = task_->Validate(p, "/tasks/0/params");
    EXPECT_FALSE(s.ok()) << p.dump();
    EXPECT_EQ(s.path(), path) << s.message();
    EXPECT_NE(s.message().find(message), std::string::npos) << s.message();
  };
  json base = Params();
  EXPECT_TRUE(task_->Validate(base, "/tasks/0/params").ok());
  json p = base;
  p.erase("workspace_id");
  check(p, "/tasks/0/params/workspace_id", "is required");
  p["organization"] = "acme";
  check(p, "/tasks/0/params/workspace", "is required");
  p = base;
  p["organization"] = "acme";
  check(p, "/tasks/0/params/workspace_id", "not both");
  p = base;
  p["address"] = "ftp://x";
  check(p, "/tasks/0/params/address", "http:// or https://");
  p = base;
  p.erase("token");
  check(p, "/tasks/0/params/token", "is required");
  p = base;
  p["files"]["../etc/passwd"] = "x";
  check(p, "/tasks/0/params/files/..~1etc~1passwd", "'..'");
  p = base;
  p["files"]["main.tf"] = 3;
  check(p, "/tasks/0/params/files/main.tf", "file's text");
  p = base;
  p["directory"] = "/tmp";
  check(p, "/tasks/0/params/files", "not both");
  p = base;
  p["variables"]["x"] = nullptr;
  check(p, "/tasks/0/params/variables/x", "null");
  p = base;
  p["poll_interval_ms"] = -1;
  check(p, "/tasks/0/params/poll_interval_ms", "integer");
  p = base;
  p["auto_apply"] = "yes";
  check(p, "/tasks/0/params/auto_apply", "boolean");
  p = base;
  p["bogus"] = 1;
  check(p, "/tasks/0/params/bogus", "unknown param");
  // Expressions pass at load time...
  p = base;
  p["workspace_id"] = "${data.ws}";
  p["auto_apply"] = "${data.auto}";
  EXPECT_TRUE(task_->Validate(p, "/tasks/0/params").ok());
  // ...and a wrong resolved value fails the run naming the param, before any call.
  p["workspace_id"] = 42;
  TaskFixture f;
  TaskOutcome o = f.Invoke(*task_, p);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("(at params.workspace_id)"), std::string::npos) << o.error;
  EXPECT_EQ(tfe_.Count("create_cv"), 0);
}

class AwxJob : public ::testing::Test {
 protected:
  void SetUp() override {
    awx_.AddTemplate(7, "deploy web");
    awx_.AddTemplate(8, "patch");
    awx_.SetArtifacts({{"version", "1.4.2"}});
  }
  json Params() const {
    return {{"address", awx_.url()}, {"token", awx_.token()},
            {"job_template_id", 7},  {"extra_vars", {{"release", "1.4.2"}, {"hosts", {"a", "b"}}}},
            {"inventory", 3},        {"limit", "web*"},
            {"poll_interval_ms", 10}};
  }
  AwxDouble awx_;
  std::unique_ptr<Task> task_ = MakeAwxJobTask();
};

TEST_F(AwxJob, LaunchesOnceAndReturnsTheArtifacts) {
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error << f.Log();
  EXPECT_EQ(o.outputs["status"], "successful");
  EXPECT_EQ(o.outputs["artifacts"], json({{"version", "1.4.2"}}));
  EXPECT_EQ(o.outputs["job_id"], 101);
  EXPECT_EQ(awx_.Launches(), 1);
  EXPECT_EQ(awx_.Count("job"), 3);  // launched pending; then waiting, running, successful
  EXPECT_EQ(awx_.LastLaunchBody(),
            json({{"extra_vars", {{"release", "1.4.2"}, {"hosts", {"a", "b"}}}},
                  {"inventory", 3},
                  {"limit", "web*"}}));
  EXPECT_EQ(f.state.values().at("job_id"), 101);
  EXPECT_EQ(f.Log().find(awx_.token()), std::string::npos);
}

TEST_F(AwxJob, TemplateByNameWithBasicAuth) {
  json p = Params();
  p.erase("token");
  p.erase("job_template_id");
  p["job_template"] = "deploy web";
  p["username"] = "admin";
  p["password"] = "secret";
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, p);
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs["job_template_id"], 7);
  EXPECT_EQ(awx_.Count("templates"), 1);
  EXPECT_EQ(awx_.LastAuthorization(), "Basic YWRtaW46c2VjcmV0");
  EXPECT_EQ(f.Log().find("secret"), std::string::npos);

  p["job_template"] = "missing";
  TaskFixture g;
  o = Drive(g, *task_, p);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("no job template named 'missing' (at params.job_template)"),
            std::string::npos)
      << o.error;
}

TEST_F(AwxJob, AFailedJobFailsWithItsLastOutputLines) {
  std::string out;
  for (int i = 1; i <= 50; ++i) out += "line " + std::to_string(i) + "\n";
  awx_.SetStdout(out);
  awx_.SetOutcome("failed");
  json p = Params();
  p["stdout_lines"] = 3;
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, p);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("job 101 of job template 7 ended failed"), std::string::npos) << o.error;
  EXPECT_NE(o.error.find("\nline 48\nline 49\nline 50"), std::string::npos) << o.error;
  EXPECT_EQ(o.error.find("line 47"), std::string::npos) << o.error;

  awx_.SetOutcome("error");
  awx_.SetStdout(std::string(100000, 'x'));
  TaskFixture g;
  o = Drive(g, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("result_traceback: Traceback (most recent call last):   boom"),
            std::string::npos)
      << o.error;
  EXPECT_LT(o.error.size(), 5000u) << "the output in the error is bounded";
}

TEST_F(AwxJob, ServerErrorsAreRetriedWithoutASecondLaunch) {
  awx_.Fail("launch", 502, 1);
  awx_.Fail("job", 429, 2);
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(awx_.Count("launch"), 2);
  EXPECT_EQ(awx_.Launches(), 1);
}

TEST_F(AwxJob, ARefusedLaunchFailsWithTheFieldErrors) {
  awx_.Fail("launch", 400, 1, R"({"variables_needed_to_start": ["'release' value missing"]})");
  TaskFixture f;
  TaskOutcome o = Drive(f, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("HTTP 400: variables_needed_to_start: 'release' value missing"),
            std::string::npos)
      << o.error;
  EXPECT_FALSE(HasKey(f.state, "launch_sent")) << "a refused launch may be tried again";

  json p = Params();
  p["token"] = "wrong";
  TaskFixture g;
  o = Drive(g, *task_, p);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("HTTP 401: Authentication credentials were not provided."),
            std::string::npos)
      << o.error;
}

TEST_F(AwxJob, ARestartWhileTheJobRunsPollsTheSameJob) {
  awx_.Hold();
  TaskFixture f;
  ASSERT_TRUE(DriveUntil(f, *task_, Params(),
                         [](const auto& s) { return s.values().count("job_id") > 0; }));
  TaskFixture g;
  g.state = f.state;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(g.Invoke(*task_, Params()).kind, Kind::kPending);
  EXPECT_EQ(awx_.JobStatus(101), "running");
  awx_.Release();
  TaskOutcome o = Drive(g, *task_, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(awx_.Launches(), 1);
}

TEST_F(AwxJob, ALostLaunchAnswerIsNotLaunchedAgain) {
  TaskFixture f;
  ASSERT_TRUE(DriveUntil(f, *task_, Params(),
                         [](const auto& s) { return s.values().count("job_id") > 0; }));
  TaskFixture g;
  g.state = f.state;
  ASSERT_TRUE(g.state.Erase("job_id").ok());
  TaskOutcome o = g.Invoke(*task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("not launching again"), std::string::npos) << o.error;
  EXPECT_EQ(awx_.Launches(), 1);
}

TEST_F(AwxJob, CancellingARunningJobCancelsItInAwx) {
  awx_.Hold();
  TaskFixture f;
  ASSERT_TRUE(DriveUntil(f, *task_, Params(),
                         [](const auto& s) { return s.values().count("job_id") > 0; }));
  f.cancelled = true;
  TaskOutcome o = f.Invoke(*task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("asked AWX to cancel job 101"), std::string::npos) << o.error;
  EXPECT_EQ(awx_.JobStatus(101), "canceled");
}

TEST_F(AwxJob, WithoutItsStateTheTaskLaunchesNothing) {
  TaskFixture f;
  f.state.fail_reads = true;
  TaskOutcome o = f.Invoke(*task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable);
  f.state.fail_reads = false;
  f.state.fail_writes = true;
  o = f.Invoke(*task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable);
  EXPECT_NE(o.error.find("launch_sent"), std::string::npos) << o.error;
  EXPECT_EQ(awx_.Count("launch"), 0);
}

TEST_F(AwxJob, ACancelThatComesDuringAPollCancelsTheJob) {
  awx_.Hold();
  TaskFixture f;
  ASSERT_TRUE(DriveUntil(f, *task_, Params(),
                         [](const auto& s) { return s.values().count("job_id") > 0; }));
  awx_.OnCall("job", [&] { f.cancelled = true; });
  TaskOutcome o = f.Invoke(*task_, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("asked AWX to cancel job 101"), std::string::npos) << o.error;
  EXPECT_EQ(awx_.JobStatus(101), "canceled");
}

TEST_F(AwxJob, ParamsAreCheckedWithTheirPath) {
  auto check = [&](json p, const std::string& path, const std::string& message) {
    Status s = task_->Validate(p, "/tasks/1/params");
    EXPECT_FALSE(s.ok()) << p.dump();
    EXPECT_EQ(s.path(), path) << s.message();
    EXPECT_NE(s.message().find(message), std::string::npos) << s.message();
  };
  json base = Params();
  EXPECT_TRUE(task_->Validate(base, "/tasks/1/params").ok());
  json p = base;
  p.erase("job_template_id");
  check(p, "/tasks/1/params/job_template_id", "exactly one");
  p = base;
  p["job_template_id"] = "x7";
  check(p, "/tasks/1/params/job_template_id", "positive integer");
  p = base;
  p["job_template_id"] = "7";
  EXPECT_TRUE(task_->Validate(p, "/tasks/1/params").ok());
  p = base;
  p.erase("token");
  check(p, "/tasks/1/params/token", "is required");
  p["username"] = "u";
  check(p, "/tasks/1/params/password", "is required");
  p = base;
  p["username"] = "u";
  check(p, "/tasks/1/params/token", "not both");
  p = base;
  p["extra_vars"] = "a=b";
  check(p, "/tasks/1/params/extra_vars", "object");
  p = base;
  p["credentials"] = {1, "z"};
  check(p, "/tasks/1/params/credentials/1", "credential id");
  p = base;
  p["job_type"] = "deploy";
  check(p, "/tasks/1/params/job_type", "\"run\" or \"check\"");
  p = base;
  p["verbosity"] = 9;
  check(p, "/tasks/1/params/verbosity", "from 0 to 5");
  p = base;
  p["inventory"] = "${data.inventory}";
  EXPECT_TRUE(task_->Validate(p, "/tasks/1/params").ok());
  p["inventory"] = "prod";
  TaskFixture f;
  TaskOutcome o = f.Invoke(*task_, p);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("(at params.inventory)"), std::string::npos) << o.error;
  EXPECT_EQ(awx_.Count("launch"), 0);
}

}  // namespace
}  // namespace wf
