// wfctl against the real wf-api and wf-engine: the binary runs as a child process and is
// judged by its output and exit code only.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>

#include "harness.h"

extern char** environ;

namespace wf::test {
namespace {

using namespace std::chrono_literals;

struct CliRun {
  int code = -1;  // exit code; 128+signal when killed
  std::string out;
  std::string err;
  std::string Describe() const {
    return "exit " + std::to_string(code) + "\n--- stdout\n" + out + "--- stderr\n" + err;
  }
};

// Runs wfctl with `args` and WF_API_URL=`api_url` (no other WF_ variable of the test's own
// environment), stdin from /dev/null; killed after 60 s.
CliRun RunWfctl(const std::string& api_url, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& extra_env = {}) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.rfind("WF_", 0) != 0)
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (!api_url.empty()) env["WF_API_URL"] = api_url;
  for (const auto& [k, v] : extra_env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {WF_WFCTL_BIN};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  const std::string dir = MakeTempDir("wfctl-run");
  const std::string out_path = dir + "/stdout", err_path = dir + "/stderr";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, WF_WFCTL_BIN, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  CliRun run;
  if (rc != 0) {
    run.err = std::string("cannot start " WF_WFCTL_BIN ": ") + strerror(rc);
    return run;
  }
  int status = 0;
  const bool ended = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 60s);
  if (!ended) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = ReadFile(out_path);
  run.err = ReadFile(err_path);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return run;
}

// The first "request <id>" line of a human-readable answer.
std::string RequestIdIn(const std::string& out) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"((?:^|\n)request +([0-9a-f-]{36}))"))) return m[1];
  return "";
}

// One wf-api and one wf-engine for the suite, with three extra templates: one whose http
// task calls a closed port (fails at once; one attempt), one whose task takes 3 s, and
// one that waits for a signal.
class Wfctl : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      slow_ = new TestHttpServer();
      slow_->server().Get("/slow", [](const httplib::Request&, httplib::Response& res) {
        std::this_thread::sleep_for(3s);
        res.set_content("{}", "application/json");
      });
      slow_->Start();
      stack_ = new Stack();
      stack_->AddTemplate(
          "unreachable",
          {{"name", "unreachable"},
           {"tasks",
            {{{"id", "call"},
              {"type", "http"},
              {"params", {{"url", "http://127.0.0.1:1/x"}, {"connect_timeout_ms", 2000}}}},
             {{"id", "after"}, {"type", "noop"}, {"depends_on", {"call"}}}}}});
      stack_->AddTemplate(
          "slow",
          {{"name", "slow"},
           {"tasks",
            {{{"id", "wait"}, {"type", "http"}, {"params", {{"url", slow_->url() + "/slow"}}}}}}});
      stack_->AddTemplate(
          "approval", {{"name", "approval"},
                       {"tasks",
                        {{{"id", "approve"}, {"type", "signal"}, {"params", {{"poll_ms", 100}}}},
                         {{"id", "done"}, {"type", "noop"}, {"depends_on", {"approve"}}}}}});
      stack_->StartApi();
      stack_->StartEngine("engine-1");
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
    delete slow_;
    slow_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static CliRun Run(const std::vector<std::string>& args) {
    return RunWfctl(stack_->api_url(), args, {{"WF_TOKEN", stack_->token("admin")}});
  }

  static Stack* stack_;
  static TestHttpServer* slow_;
  static std::string setup_error_;
};

Stack* Wfctl::stack_ = nullptr;
TestHttpServer* Wfctl::slow_ = nullptr;
std::string Wfctl::setup_error_;

TEST_F(Wfctl, SubmitWaitSucceedsAndTheRequestCanBeReadAndListed) {
  CliRun submit = Run({"submit", "hello", "--data", R"({"name":"x"})", "--wait"});
  ASSERT_EQ(submit.code, 0) << submit.Describe() << stack_->Logs();
  EXPECT_NE(submit.out.find("succeeded"), std::string::npos) << submit.Describe();
  EXPECT_NE(submit.out.find("Hello, x!"), std::string::npos) << submit.Describe();
  const std::string id = RequestIdIn(submit.out);
  ASSERT_FALSE(id.empty()) << submit.Describe();

  CliRun get = Run({"--json", "get", id});
  ASSERT_EQ(get.code, 0) << get.Describe();
  json request = json::parse(get.out, nullptr, false);
  ASSERT_FALSE(request.is_discarded()) << get.Describe();
  EXPECT_EQ(request["request_id"], id);
  EXPECT_EQ(request["status"], "succeeded");
  EXPECT_EQ(request["outputs"]["greeting"], "Hello, x!");

  CliRun table = Run({"get", id});
  ASSERT_EQ(table.code, 0) << table.Describe();
  EXPECT_TRUE(std::regex_search(table.out, std::regex(R"(\ncombine +noop +succeeded +1 )")))
      << table.Describe();

  CliRun list = Run({"list", "--template", "hello"});
  ASSERT_EQ(list.code, 0) << list.Describe();
  EXPECT_NE(list.out.find(id), std::string::npos) << list.Describe();
  EXPECT_TRUE(std::regex_search(list.out, std::regex(id + " +hello +succeeded ")))
      << list.Describe();
  CliRun other = Run({"list", "--template", "unreachable"});
  ASSERT_EQ(other.code, 0) << other.Describe();
  EXPECT_EQ(other.out.find(id), std::string::npos) << other.Describe();
}

TEST_F(Wfctl, SubmitWithoutWaitPrintsTheIdsAndTakesDataFromAFile) {
  const std::string dir = MakeTempDir("wfctl-data");
  WriteFile(dir + "/data.json", R"({"name": "from a file"})");
  const std::string trace = "0b6f8c1e-2d4a-4f5e-9a7b-3c2d1e0f9a8b";
  CliRun submit =
      Run({"--json", "submit", "hello", "--data", "@" + dir + "/data.json", "--trace-id", trace});
  std::filesystem::remove_all(dir);
  ASSERT_EQ(submit.code, 0) << submit.Describe();
  json answer = json::parse(submit.out, nullptr, false);
  ASSERT_FALSE(answer.is_discarded()) << submit.Describe();
  EXPECT_EQ(answer["trace_id"], trace);
  const std::string id = answer["request_id"];
  json done = stack_->WaitDone(id, 30s);
  EXPECT_EQ(done["outputs"]["greeting"], "Hello, from a file!");

  CliRun list = Run({"list", "--trace-id", trace});
  ASSERT_EQ(list.code, 0) << list.Describe();
  EXPECT_NE(list.out.find(id), std::string::npos) << list.Describe();

  CliRun plain = Run({"submit", "hello", "--data", R"({"name":"y"})"});
  ASSERT_EQ(plain.code, 0) << plain.Describe();
  EXPECT_FALSE(RequestIdIn(plain.out).empty()) << plain.Describe();
  EXPECT_NE(plain.out.find("trace"), std::string::npos) << plain.Describe();
  CliRun quiet = Run({"submit", "hello", "--data", R"({"name":"z"})", "--quiet"});
  ASSERT_EQ(quiet.code, 0) << quiet.Describe();
  EXPECT_TRUE(std::regex_match(quiet.out, std::regex("[0-9a-f-]{36}\n"))) << quiet.Describe();
}

TEST_F(Wfctl, AFailedRequestExitsOneAndNamesTheFailedTask) {
  CliRun run = Run({"submit", "unreachable", "--wait"});
  EXPECT_EQ(run.code, 1) << run.Describe() << stack_->Logs();
  EXPECT_NE(run.out.find("failed"), std::string::npos) << run.Describe();
  EXPECT_TRUE(std::regex_search(run.out, std::regex(R"(\ncall +http +1 )"))) << run.Describe();
}

TEST_F(Wfctl, WaitTimeoutExitsTwoAndLeavesTheRequestRunning) {
  CliRun run = Run({"submit", "slow", "--wait", "--timeout", "0.5"});
  EXPECT_EQ(run.code, 2) << run.Describe();
  EXPECT_NE(run.err.find("timed out"), std::string::npos) << run.Describe();
  const std::string id = RequestIdIn(run.out);
  ASSERT_FALSE(id.empty()) << run.Describe();
  EXPECT_EQ(stack_->WaitDone(id, 30s)["status"], "succeeded");
}

TEST_F(Wfctl, ApiErrorsExitThreeWithTheApiMessageAndPath) {
  CliRun nope = Run({"submit", "nope"});
  EXPECT_EQ(nope.code, 3) << nope.Describe();
  EXPECT_NE(nope.err.find("no template named 'nope'"), std::string::npos) << nope.Describe();
  EXPECT_NE(nope.err.find("/template"), std::string::npos) << nope.Describe();

  CliRun bad_data = Run({"submit", "hello", "--data", R"({"name": 5})"});
  EXPECT_EQ(bad_data.code, 3) << bad_data.Describe();
  EXPECT_NE(bad_data.err.find("/data/name"), std::string::npos) << bad_data.Describe();

  CliRun not_json = Run({"submit", "hello", "--data", "{name"});
  EXPECT_EQ(not_json.code, 3) << not_json.Describe();
  EXPECT_NE(not_json.err.find("not valid JSON"), std::string::npos) << not_json.Describe();

  CliRun unknown = Run({"get", "6f1c1b9e-3a52-4c9b-9d2e-5f4a3b2c1d0e"});
  EXPECT_EQ(unknown.code, 3) << unknown.Describe();
  EXPECT_NE(unknown.err.find("not_found"), std::string::npos) << unknown.Describe();

  CliRun usage = Run({"get"});
  EXPECT_EQ(usage.code, 3) << usage.Describe();
}

TEST_F(Wfctl, ValidatePrintsThePathOfEveryError) {
  const std::string dir = MakeTempDir("wfctl-validate");
  WriteFile(dir + "/bad.json", R"({"name": "bad", "tasks": [
      {"id": "a", "type": "noop", "colour": "red"},
      {"id": "b", "type": "htp"}]})");
  WriteFile(dir + "/broken.json", R"({"name": )");
  CliRun bad = Run({"validate", dir + "/bad.json"});
  EXPECT_EQ(bad.code, 1) << bad.Describe();
  EXPECT_NE(bad.out.find("/tasks/0/colour: "), std::string::npos) << bad.Describe();
  EXPECT_NE(bad.out.find("/tasks/1/type: "), std::string::npos) << bad.Describe();
  EXPECT_NE(bad.out.find("2 errors"), std::string::npos) << bad.Describe();

  CliRun broken = Run({"validate", dir + "/broken.json"});
  EXPECT_EQ(broken.code, 1) << broken.Describe();
  EXPECT_NE(broken.out.find("not valid JSON"), std::string::npos) << broken.Describe();

  CliRun good = Run({"validate", WF_SOURCE_DIR "/templates/hello.json"});
  EXPECT_EQ(good.code, 0) << good.Describe();
  EXPECT_NE(good.out.find("valid: template hello"), std::string::npos) << good.Describe();

  CliRun missing = Run({"validate", dir + "/missing.json"});
  EXPECT_EQ(missing.code, 3) << missing.Describe();
  std::filesystem::remove_all(dir);
}

TEST_F(Wfctl, TemplatesListsHelloAndTemplateShowsItsDag) {
  CliRun list = Run({"templates"});
  ASSERT_EQ(list.code, 0) << list.Describe();
  EXPECT_TRUE(std::regex_search(list.out, std::regex(R"(\nhello +1 +4 )"))) << list.Describe();
  EXPECT_NE(list.out.find("unreachable"), std::string::npos) << list.Describe();

  CliRun dag = Run({"template", "hello"});
  ASSERT_EQ(dag.code, 0) << dag.Describe();
  EXPECT_NE(dag.out.find("4 tasks in 3 stages"), std::string::npos) << dag.Describe();
  EXPECT_TRUE(std::regex_search(dag.out, std::regex(R"(\n +1 +greet +noop\n)"))) << dag.Describe();
  EXPECT_TRUE(std::regex_search(dag.out, std::regex(R"(\n +whisper +noop +greet\n)")))
      << dag.Describe();
  EXPECT_TRUE(std::regex_search(dag.out, std::regex(R"(\n +3 +combine +noop +shout, whisper)")))
      << dag.Describe();
  EXPECT_NE(dag.out.find("name (string, required)"), std::string::npos) << dag.Describe();

  CliRun none = Run({"template", "nope"});
  EXPECT_EQ(none.code, 3) << none.Describe();
}

TEST_F(Wfctl, ServicesListsTheEngine) {
  CliRun run;
  bool listed = WaitFor(
      [&] {
        run = Run({"services"});
        return run.code == 0 && std::regex_search(run.out, std::regex(R"(\nengine +engine-1 )"));
      },
      15s);
  EXPECT_TRUE(listed) << run.Describe();
  EXPECT_TRUE(std::regex_search(run.out, std::regex(R"(\napi +)"))) << run.Describe();
}

TEST_F(Wfctl, RerunAndCancel) {
  const std::string id = stack_->Submit("hello", {{"name", "again"}});
  stack_->WaitDone(id, 30s);
  CliRun rerun = Run({"rerun", id, "--from", "failed", "--wait"});
  ASSERT_EQ(rerun.code, 0) << rerun.Describe();
  const std::string new_id = RequestIdIn(rerun.out);
  ASSERT_FALSE(new_id.empty()) << rerun.Describe();
  EXPECT_NE(new_id, id);
  CliRun get = Run({"--json", "get", new_id});
  ASSERT_EQ(get.code, 0) << get.Describe();
  EXPECT_EQ(json::parse(get.out)["rerun_of"], id) << get.Describe();

  // Cancelling an ended request changes nothing and says how it ended.
  CliRun cancel = Run({"cancel", id});
  EXPECT_EQ(cancel.code, 0) << cancel.Describe();
  EXPECT_NE(cancel.out.find("succeeded"), std::string::npos) << cancel.Describe();

  CliRun bad_from = Run({"rerun", id, "--from", "middle"});
  EXPECT_EQ(bad_from.code, 3) << bad_from.Describe();
}

TEST_F(Wfctl, SignalCompletesOrFailsTheWaitingTask) {
  const std::string ok = stack_->Submit("approval", json::object());
  CliRun approve = Run({"signal", ok, "approve", "--outputs", R"({"by": "ops"})"});
  ASSERT_EQ(approve.code, 0) << approve.Describe();
  EXPECT_NE(approve.out.find("accepted"), std::string::npos) << approve.Describe();
  json done = stack_->WaitDone(ok, 30s);
  EXPECT_EQ(done["status"], "succeeded") << done.dump(2);
  EXPECT_EQ(done["tasks"][0]["outputs"]["by"], "ops") << done.dump(2);
  CliRun again = Run({"signal", ok, "approve", "--error", "too late"});
  EXPECT_EQ(again.code, 3) << again.Describe();
  EXPECT_NE(again.err.find("not_running"), std::string::npos) << again.Describe();

  const std::string refused = stack_->Submit("approval", json::object());
  CliRun reject = Run({"signal", refused, "approve", "--error", "not approved"});
  ASSERT_EQ(reject.code, 0) << reject.Describe();
  EXPECT_EQ(stack_->WaitDone(refused, 30s)["status"], "failed");

  CliRun wrong_task = Run({"signal", refused, "done", "--outputs", "{}"});
  EXPECT_EQ(wrong_task.code, 3) << wrong_task.Describe();
  EXPECT_NE(wrong_task.err.find("/task_id"), std::string::npos) << wrong_task.Describe();
  CliRun not_object = Run({"signal", refused, "approve", "--outputs", "[1]"});
  EXPECT_EQ(not_object.code, 3) << not_object.Describe();
}

TEST_F(Wfctl, ARequestCancelledWhileWaitingExitsTwo) {
  const std::string trace = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
  CliRun waited;
  std::thread waiter([&] { waited = Run({"submit", "approval", "--trace-id", trace, "--wait"}); });
  std::string id;
  WaitFor(
      [&] {
        auto r = stack_->Get("/v1/requests?trace_id=" + trace);
        if (!r || r->status != 200) return false;
        json list = json::parse(r->body)["requests"];
        if (list.empty()) return false;
        id = list[0]["request_id"];
        return true;
      },
      30s);
  CliRun cancel;
  if (!id.empty()) cancel = Run({"cancel", id});
  waiter.join();
  ASSERT_FALSE(id.empty()) << waited.Describe();
  EXPECT_EQ(cancel.code, 0) << cancel.Describe();
  EXPECT_TRUE(std::regex_search(cancel.out, std::regex("cancell(ed|ing)"))) << cancel.Describe();
  EXPECT_EQ(waited.code, 2) << waited.Describe();
  EXPECT_TRUE(std::regex_search(waited.out, std::regex(R"(\nstatus +cancelled\n)")))
      << waited.Describe();
}

// ------------------------------------------------------ without the real API running

TEST(WfctlNoServer, AnUnreachableApiExitsThreeWithAClearMessage) {
  const std::string url = "http://127.0.0.1:" + std::to_string(FreePort());
  CliRun run = RunWfctl(url, {"templates"});
  EXPECT_EQ(run.code, 3) << run.Describe();
  EXPECT_NE(run.err.find("cannot reach the API at " + url), std::string::npos) << run.Describe();
  CliRun flag = RunWfctl("", {"--api", url, "submit", "hello", "--wait"});
  EXPECT_EQ(flag.code, 3) << flag.Describe();
  EXPECT_NE(flag.err.find("cannot reach the API at " + url), std::string::npos) << flag.Describe();
}

// A server that knows none of the routes (an older API) answers 404; the token is sent.
TEST(WfctlNoServer, RoutesTheServerDoesNotKnowAreReportedAsNotSupportedYet) {
  TestHttpServer server;
  std::mutex mu;
  std::string authorization = "(none)";
  server.server().Get("/v1/services", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    authorization = req.get_header_value("Authorization");
    res.set_content(R"({"services": []})", "application/json");
  });
  server.Start();
  const std::string id = "6f1c1b9e-3a52-4c9b-9d2e-5f4a3b2c1d0e";
  CliRun logs = RunWfctl(server.url(), {"logs", id});
  EXPECT_EQ(logs.code, 3) << logs.Describe();
  EXPECT_NE(logs.err.find("does not support `wfctl logs` yet"), std::string::npos)
      << logs.Describe();
  CliRun signal = RunWfctl(server.url(), {"signal", id, "approve", "--outputs", R"({"ok": true})"});
  EXPECT_EQ(signal.code, 3) << signal.Describe();
  EXPECT_NE(signal.err.find("does not support `wfctl signal` yet"), std::string::npos)
      << signal.Describe();
  CliRun neither = RunWfctl(server.url(), {"signal", id, "approve"});
  EXPECT_EQ(neither.code, 3) << neither.Describe();

  CliRun services = RunWfctl(server.url(), {"services"}, {{"WF_TOKEN", "s3cret"}});
  EXPECT_EQ(services.code, 0) << services.Describe();
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(authorization, "Bearer s3cret");
  }
  services = RunWfctl(server.url(), {"services"});
  EXPECT_EQ(services.code, 0) << services.Describe();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(authorization, "");
}

}  // namespace
}  // namespace wf::test
