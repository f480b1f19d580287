// The http_poll module against a local HTTP server whose answer changes from poll to poll.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "builtin.h"
#include "params.h"
#include "task_fixture.h"
#include "test_servers.h"

namespace wf {
namespace {

using Kind = TaskOutcome::Kind;
using std::chrono::milliseconds;

// Invokes the task as the engine does: again after each pending, waiting recheck_after.
TaskOutcome PollToTheEnd(test::TaskFixture& f, const Task& task, const json& params,
                         bool wait = false) {
  TaskOutcome o = f.Invoke(task, params);
  for (int i = 0; i < 200 && o.kind == Kind::kPending; ++i) {
    if (wait) std::this_thread::sleep_for(o.recheck_after);
    o = f.Invoke(task, params);
  }
  return o;
}

class HttpPollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.server().Get("/job", [this](const httplib::Request& req, httplib::Response& res) {
      int n = ++calls_;
      idempotency_key_ = req.get_header_value("Idempotency-Key");
      if (n <= errors_first_) {
        res.status = 503;
        res.set_content("overloaded", "text/plain");
        return;
      }
      std::string state = n < done_at_ ? "running" : final_state_;
      res.set_header("X-Job-State", state);
      res.set_content(json({{"state", state}, {"id", 7}}).dump(), "application/json");
    });
    server_.Start();
  }

  json Params(json extra = json::object()) {
    json p = {{"url", server_.url() + "/job"},
              {"success_when", "${item.body.state} == 'done'"},
              {"failure_when", "${item.body.state} == 'error'"},
              {"interval", "100ms"}};
    p.update(extra);
    return p;
  }

  test::LocalHttpServer server_;
  std::atomic<int> calls_{0};
  std::string idempotency_key_;
  int errors_first_ = 0;
  int done_at_ = 3;
  std::string final_state_ = "done";
};

TEST_F(HttpPollTest, PollsUntilTheSuccessConditionHolds) {
  test::TaskFixture f;
  auto task = MakeHttpPollTask();
  TaskOutcome o = f.Invoke(*task, Params());
  ASSERT_EQ(o.kind, Kind::kPending) << o.error;
  EXPECT_EQ(o.recheck_after, milliseconds(100));
  o = PollToTheEnd(f, *task, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(calls_, 3);
  EXPECT_EQ(o.outputs["status"], 200);
  EXPECT_EQ(o.outputs["body"], json({{"state", "done"}, {"id", 7}}));
  EXPECT_EQ(o.outputs["headers"]["x-job-state"], "done");
  EXPECT_EQ(o.outputs["polls"], 3);
  EXPECT_EQ(o.outputs["errors"], 0);
  EXPECT_EQ(idempotency_key_, "req-1/t1");
}

TEST_F(HttpPollTest, ConditionsSeeStatusHeadersAndRequestData) {
  test::TaskFixture f;
  f.data = {{"want", "done"}};
  auto task = MakeHttpPollTask();
  TaskOutcome o = PollToTheEnd(
      f, *task,
      Params({{"success_when",
               "${item.status} == 200 and ${item.headers.x-job-state} == ${data.want}"}}));
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs["polls"], 3);
}

TEST_F(HttpPollTest, TheFailureConditionFailsTheTask) {
  final_state_ = "error";
  test::TaskFixture f;
  auto task = MakeHttpPollTask();
  TaskOutcome o = PollToTheEnd(f, *task, Params());
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("failure_when holds (${item.body.state} == 'error')"), std::string::npos)
      << o.error;
  EXPECT_EQ(calls_, 3);
}

TEST_F(HttpPollTest, ServerErrorsAreCountedAndPolledAgain) {
  errors_first_ = 2;
  done_at_ = 4;
  test::TaskFixture f;
  auto task = MakeHttpPollTask();
  TaskOutcome o = PollToTheEnd(f, *task, Params());
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs["polls"], 4);
  EXPECT_EQ(o.outputs["errors"], 2);
  EXPECT_NE(f.Log().find("poll 1: GET http://127.0.0.1:"), std::string::npos) << f.Log();
}

TEST_F(HttpPollTest, GivesUpAtTheTimeout) {
  done_at_ = 1000000;
  test::TaskFixture f;
  auto task = MakeHttpPollTask();
  TaskOutcome o = PollToTheEnd(f, *task, Params({{"timeout", "500ms"}}), /*wait=*/true);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable);
  EXPECT_NE(o.error.find("no condition held within the timeout"), std::string::npos) << o.error;
  EXPECT_NE(o.error.find("success_when does not hold: status 200"), std::string::npos) << o.error;
  EXPECT_GE(calls_, 2);
}

TEST_F(HttpPollTest, ARestartDoesNotExtendTheDeadline) {
  done_at_ = 1000000;
  test::TaskFixture f;
  auto task = MakeHttpPollTask();
  json params = Params({{"timeout", "1h"}});
  ASSERT_EQ(f.Invoke(*task, params).kind, Kind::kPending);
  json saved = f.state.values().at("poll");
  EXPECT_EQ(saved["polls"], 1);
  ASSERT_EQ(f.Invoke(*task, params).kind, Kind::kPending);
  EXPECT_EQ(f.state.values().at("poll")["deadline_ms"], saved["deadline_ms"]);
  EXPECT_EQ(f.state.values().at("poll")["polls"], 2);

  // The hour is up while the engine was down: the next invocation fails at once.
  saved = f.state.values().at("poll");
  saved["deadline_ms"] = params::NowEpochMs() - 1;
  ASSERT_TRUE(f.state.Set("poll", saved).ok());
  TaskOutcome o = f.Invoke(*task, params);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable);
  EXPECT_NE(o.error.find("(2 polls, 0 errors)"), std::string::npos) << o.error;
  EXPECT_EQ(calls_, 2);
}

TEST_F(HttpPollTest, ConnectionErrorsAreRetriedUntilTheTimeout) {
  int port;
  {
    test::LocalHttpServer closed;
    closed.Start();
    port = std::stoi(closed.url().substr(closed.url().rfind(':') + 1));
  }
  test::TaskFixture f;
  auto task = MakeHttpPollTask();
  json params = Params({{"url", "http://127.0.0.1:" + std::to_string(port) + "/job"}});
  TaskOutcome o = f.Invoke(*task, params);
  ASSERT_EQ(o.kind, Kind::kPending) << o.error;
  EXPECT_EQ(f.state.values().at("poll")["errors"], 1);
  EXPECT_NE(f.state.values().at("poll")["last_error"].get<std::string>().find("127.0.0.1"),
            std::string::npos);
}

TEST(HttpPollParams, AreCheckedWithTheirPaths) {
  auto task = MakeHttpPollTask();
  auto check = [&](const json& params) { return task->Validate(params, "/tasks/2/params"); };
  json ok = {{"url", "${data.base}/job"}, {"success_when", "$${item.body.state} == 'done'"}};
  EXPECT_TRUE(check(ok).ok()) << check(ok).ToString();
  // An expression resolved at run time makes the condition complete only then.
  json later = ok;
  later["success_when"] = "$${item.body.id} == '${data.id}'";
  EXPECT_TRUE(check(later).ok());

  json bad = ok;
  bad["success_when"] = "$${item.body.state} ==";
  Status s = check(bad);
  EXPECT_EQ(s.path(), "/tasks/2/params/success_when");
  bad = ok;
  bad.erase("success_when");
  s = check(bad);
  EXPECT_EQ(s.path(), "/tasks/2/params/success_when");
  EXPECT_EQ(s.message(), "'success_when' is required");
  bad = ok;
  bad["interval"] = "10ms";
  s = check(bad);
  EXPECT_EQ(s.path(), "/tasks/2/params/interval");
  EXPECT_EQ(s.message(), "must be at least 100 ms");
  bad = ok;
  bad["timeout"] = "forever";
  EXPECT_EQ(check(bad).path(), "/tasks/2/params/timeout");
  bad = ok;
  bad["url"] = "ftp://example.com/";
  EXPECT_EQ(check(bad).path(), "/tasks/2/params/url");
  bad = ok;
  bad["expected_status"] = 200;
  EXPECT_EQ(check(bad).path(), "/tasks/2/params/expected_status");
}

}  // namespace
}  // namespace wf
