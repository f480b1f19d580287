// The exec module against real child processes. The programs under test are small
// /bin/sh scripts (argv ["/bin/sh", "-c", script]); the module itself never uses a shell.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "builtin.h"
#include "task_fixture.h"

namespace wf {
namespace {

using Kind = TaskOutcome::Kind;

json Sh(const std::string& script, json extra = json::object()) {
  json p = {{"argv", {"/bin/sh", "-c", script}}, {"env", {{"PATH", "/usr/bin:/bin"}}}};
  p.update(extra);
  return p;
}

std::string TempDir() {
  std::string tmpl = ::testing::TempDir() + "wf-exec-XXXXXX";
  char* dir = mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr);
  return tmpl;
}

// Running (or stopped) as opposed to gone or a zombie nobody reaped yet.
bool Alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  if (text.empty()) return false;
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z' &&
         text[paren + 2] != 'X';
}

// Polls `pred` every 10 ms, for at most 10 s.
bool Eventually(const std::function<bool()>& pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

std::vector<pid_t> ReadPids(const std::string& path) {
  std::ifstream in(path);
  std::vector<pid_t> pids;
  for (pid_t p; in >> p;) pids.push_back(p);
  return pids;
}

TEST(ExecTask, StepsFormAPipeEachEnrichingTheState) {
  test::TaskFixture f;
  auto task = MakeExecTask();
  json state = {{"hostname", "web-1"}};
  for (const char* step : {"one", "two"}) {
    std::string script = std::string("exec sed 's/}$/,\"") + step + "\":true}/'";
    TaskOutcome o = f.Invoke(*task, Sh(script, {{"input", state}}));
    ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
    state = o.outputs;
  }
  EXPECT_EQ(state, json({{"hostname", "web-1"}, {"one", true}, {"two", true}}));
}

TEST(ExecTask, DefaultInputIsTheRequestData) {
  test::TaskFixture f;
  f.data = {{"cpu", 4}};
  auto task = MakeExecTask();
  TaskOutcome o = f.Invoke(*task, Sh("exec cat"));
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs, json({{"cpu", 4}}));
}

TEST(ExecTask, BareProgramNamesAreLookedUpInTheSearchPathOnly) {
  test::TaskFixture f;
  auto task = MakeExecTask();
  TaskOutcome o = f.Invoke(*task, {{"argv", {"cat"}}, {"input", {{"k", 1}}}});
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs, json({{"k", 1}}));

  o = f.Invoke(*task, {{"argv", {"cat"}}, {"search_path", {"/nonexistent"}}});
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("'cat' not found in search_path (/nonexistent)"), std::string::npos)
      << o.error;

  o = f.Invoke(*task, {{"argv", {"/nonexistent/program"}}});
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("cannot execute /nonexistent/program"), std::string::npos) << o.error;

  o = f.Invoke(*task, Sh("exec pwd", {{"cwd", "/nonexistent-dir"}}));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("cannot change to directory /nonexistent-dir"), std::string::npos)
      << o.error;
}

TEST(ExecTask, StdoutMustBeOneJsonObject) {
  test::TaskFixture f;
  auto task = MakeExecTask();
  TaskOutcome o = f.Invoke(*task, Sh("echo hello"));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("not JSON on stdout: hello"), std::string::npos) << o.error;

  o = f.Invoke(*task, Sh("echo '[1, 2]'"));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("printed a JSON array on stdout"), std::string::npos) << o.error;

  o = f.Invoke(*task, Sh("true"));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("printed nothing on stdout"), std::string::npos) << o.error;
}

TEST(ExecTask, ExitCodesMapToFailuresAndStderrGoesToTheLog) {
  test::TaskFixture f;
  auto task = MakeExecTask();
  std::string script = "echo 'first problem' >&2; echo 'disk full' >&2; exit 3";
  TaskOutcome o = f.Invoke(*task, Sh(script));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("exited with status 3; stderr: first problem disk full"),
            std::string::npos)
      << o.error;
  EXPECT_NE(f.Log().find("info stderr: first problem\ninfo stderr: disk full\n"), std::string::npos)
      << f.Log();

  o = f.Invoke(*task, Sh(script, {{"retryable_exit_codes", {75, 3}}}));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable);

  o = f.Invoke(*task, Sh("kill -USR1 $$"));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("killed by signal " + std::to_string(SIGUSR1)), std::string::npos)
      << o.error;
}

TEST(ExecTask, OnlyAllowedEnvironmentVariablesAreVisible) {
  ASSERT_EQ(setenv("WF_EXEC_TEST_SECRET", "s3cret", 1), 0);
  ASSERT_EQ(setenv("WF_EXEC_TEST_SHARED", "shared", 1), 0);
  test::TaskFixture f;
  auto task = MakeExecTask();
  std::string script =
      "printf '{\"given\":\"%s\",\"shared\":\"%s\",\"secret\":\"%s\",\"home\":\"%s\","
      "\"cwd\":\"%s\"}' \"$GIVEN\" \"$WF_EXEC_TEST_SHARED\" \"$WF_EXEC_TEST_SECRET\" "
      "\"$HOME\" \"$(pwd)\"";
  TaskOutcome o = f.Invoke(*task, Sh(script, {{"env", {{"GIVEN", "g"}, {"PATH", "/usr/bin:/bin"}}},
                                              {"inherit_env", {"WF_EXEC_TEST_SHARED"}},
                                              {"cwd", "/tmp"}}));
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(
      o.outputs,
      json({{"given", "g"}, {"shared", "shared"}, {"secret", ""}, {"home", ""}, {"cwd", "/tmp"}}));
}

TEST(ExecTask, TimeoutKillsTheWholeProcessGroup) {
  std::string dir = TempDir();
  test::TaskFixture f;
  auto task = MakeExecTask();
  // The script ignores SIGTERM, so only the SIGKILL after the grace period ends it; its
  // background child must die with it.
  std::string script = "trap '' TERM; sleep 60 & echo $$ > " + dir + "/pids; echo $! >> " + dir +
                       "/pids; echo started >&2; wait";
  TaskOutcome o = f.Invoke(*task, Sh(script, {{"timeout_ms", 1000}, {"kill_grace_ms", 100}}));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable);
  EXPECT_NE(o.error.find("timed out after"), std::string::npos) << o.error;
  EXPECT_NE(o.error.find("the process was killed; stderr: started"), std::string::npos) << o.error;
  std::vector<pid_t> pids = ReadPids(dir + "/pids");
  ASSERT_EQ(pids.size(), 2u);
  // The shell was reaped by the task (no zombie left), the background sleep was killed.
  EXPECT_EQ(waitpid(pids[0], nullptr, WNOHANG), -1);
  EXPECT_FALSE(Alive(pids[0]));
  EXPECT_TRUE(Eventually([&] { return !Alive(pids[1]); })) << "pid " << pids[1];
}

TEST(ExecTask, ProcessesLeftBehindAreKilledWhenTheProgramExits) {
  std::string dir = TempDir();
  test::TaskFixture f;
  auto task = MakeExecTask();
  std::string script = "sleep 60 & echo $! > " + dir + "/pids; echo '{\"ok\":true}'";
  TaskOutcome o = f.Invoke(*task, Sh(script));
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  std::vector<pid_t> pids = ReadPids(dir + "/pids");
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(Eventually([&] { return !Alive(pids[0]); })) << "pid " << pids[0];
}

TEST(ExecTask, OutputOverTheLimitKillsTheProgram) {
  test::TaskFixture f;
  auto task = MakeExecTask();
  TaskOutcome o =
      f.Invoke(*task, Sh("while :; do echo xxxxxxxxxxxxxxxx; done", {{"max_output_bytes", 1000}}));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("wrote more than 1000 bytes to stdout"), std::string::npos) << o.error;

  o = f.Invoke(*task,
               Sh("while :; do echo yyyyyyyyyyyyyyy >&2; done", {{"max_output_bytes", 1000}}));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.error.find("wrote more than 1000 bytes to stderr"), std::string::npos) << o.error;
}

TEST(ExecTask, AProgramThatIgnoresALargeInputDoesNotBreakTheEngine) {
  test::TaskFixture f;
  auto task = MakeExecTask();
  json big = {{"blob", std::string(4 << 20, 'a')}};
  TaskOutcome o = f.Invoke(*task, Sh("echo '{\"ignored\":true}'", {{"input", big}}));
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs, json({{"ignored", true}}));
}

TEST(ExecTask, CancellationKillsTheProgram) {
  std::string dir = TempDir();
  test::TaskFixture f;
  auto task = MakeExecTask();
  TaskOutcome o;
  std::thread runner([&] {
    o = f.Invoke(*task, Sh("echo $$ > " + dir + "/pid.tmp; mv " + dir + "/pid.tmp " + dir +
                           "/pid; exec sleep 60"));
  });
  ASSERT_TRUE(Eventually([&] { return !ReadPids(dir + "/pid").empty(); }));
  pid_t pid = ReadPids(dir + "/pid")[0];
  f.cancelled = true;
  runner.join();
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("cancelled; the process was killed"), std::string::npos) << o.error;
  EXPECT_FALSE(Alive(pid));
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
}

TEST(ExecTask, ParamsAreCheckedWithTheirPaths) {
  auto task = MakeExecTask();
  auto check = [&](const json& params) { return task->Validate(params, "/tasks/0/params"); };
  EXPECT_TRUE(check(Sh("true")).ok());
  EXPECT_TRUE(check({{"argv", {"${data.program}", "${data.arg}"}}}).ok());

  Status s = check(json::object());
  EXPECT_EQ(s.path(), "/tasks/0/params/argv");
  EXPECT_NE(s.message().find("required"), std::string::npos);
  s = check({{"argv", json::array()}});
  EXPECT_EQ(s.path(), "/tasks/0/params/argv");
  s = check({{"argv", {"/bin/echo", 1}}});
  EXPECT_EQ(s.path(), "/tasks/0/params/argv/1");
  EXPECT_EQ(s.message(), "must be a string, not integer");
  s = check({{"argv", {"bin/echo"}}});
  EXPECT_EQ(s.path(), "/tasks/0/params/argv/0");
  s = check({{"argv", {"echo"}}, {"env", {{"BAD-NAME", "x"}}}});
  EXPECT_EQ(s.path(), "/tasks/0/params/env/BAD-NAME");
  s = check({{"argv", {"echo"}}, {"inherit_env", {"HOME", 3}}});
  EXPECT_EQ(s.path(), "/tasks/0/params/inherit_env/1");
  s = check({{"argv", {"echo"}}, {"cwd", "relative"}});
  EXPECT_EQ(s.path(), "/tasks/0/params/cwd");
  s = check({{"argv", {"echo"}}, {"timeout_ms", 0}});
  EXPECT_EQ(s.path(), "/tasks/0/params/timeout_ms");
  s = check({{"argv", {"echo"}}, {"retryable_exit_codes", {1, 256}}});
  EXPECT_EQ(s.path(), "/tasks/0/params/retryable_exit_codes/1");
  s = check({{"argv", {"echo"}}, {"search_path", {"usr/bin"}}});
  EXPECT_EQ(s.path(), "/tasks/0/params/search_path/0");
  s = check({{"argv", {"echo"}}, {"shell", true}});
  EXPECT_EQ(s.path(), "/tasks/0/params/shell");
  EXPECT_EQ(s.message(), "unknown param");

  // At run time the resolved values are checked again.
  test::TaskFixture f;
  TaskOutcome o = f.Invoke(*task, {{"argv", {"/bin/echo", json::object()}}});
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_EQ(o.error, "invalid params: must be a string, not object (at /argv/1)");
}

}  // namespace
}  // namespace wf
