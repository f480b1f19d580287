// Tests for RequestRun, the in-memory state machine of one request's DAG.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "run_fixtures.h"
#include "wf/core/template.h"
#include "wf/request_run.h"
#include "wf/request_store.h"

namespace wf {
namespace {

using Kind = RunAction::Kind;
using fixtures::MakeRequest;
using fixtures::MustParse;
using fixtures::Row;

// Names of the tasks the actions of `kind` are about, in order.
std::vector<std::string> TasksOf(const RequestRun& run, const std::vector<RunAction>& actions,
                                 Kind kind) {
  std::vector<std::string> out;
  for (const auto& a : actions) {
    if (a.kind == kind) out.push_back(run.tmpl().tasks[a.node].id);
  }
  return out;
}

const RunAction* FindFinish(const std::vector<RunAction>& actions) {
  for (const auto& a : actions) {
    if (a.kind == Kind::kFinish) return &a;
  }
  return nullptr;
}

size_t Idx(const RequestRun& run, const std::string& id) { return run.tmpl().index.at(id); }

const char* kDiamond = R"({
  "name": "wf",
  "tasks": [
    {"id": "a", "type": "noop", "params": {"n": "${data.n}"}},
    {"id": "b", "type": "noop", "depends_on": ["a"],
     "params": {"x": "${tasks.a.outputs.v}", "who": "${data.user.name}", "rid": "${request.id}"}},
    {"id": "c", "type": "noop", "depends_on": ["a"]},
    {"id": "d", "type": "noop", "depends_on": ["b", "c"],
     "params": {"joined": "${tasks.b.outputs.r}+${tasks.c.outputs.r}", "trace": "${request.trace_id}"}}
  ],
  "outputs": {"result": "${tasks.d.outputs.final}", "a_status": "${tasks.a.status}",
              "rid": "${request.id}", "all": ["${tasks.b.outputs.r}", "${data.n}"]}
})";

// Starts and completes `task` successfully with `outputs`.
void Succeed(RequestRun& run, const std::string& id, json outputs = json::object()) {
  size_t i = Idx(run, id);
  run.StartAttempt(i, false);
  run.Apply(i, TaskStatus::kSucceeded, std::move(outputs), "");
}

TEST(TaskStatusTest, NamesRoundTrip) {
  for (auto s :
       {TaskStatus::kPending, TaskStatus::kRunning, TaskStatus::kWaiting, TaskStatus::kSucceeded,
        TaskStatus::kFailed, TaskStatus::kSkipped, TaskStatus::kCancelled}) {
    TaskStatus parsed = TaskStatus::kPending;
    ASSERT_TRUE(ParseTaskStatus(TaskStatusName(s), &parsed)) << TaskStatusName(s);
    EXPECT_EQ(parsed, s);
  }
  EXPECT_STREQ(TaskStatusName(TaskStatus::kWaiting), "waiting");
  TaskStatus untouched = TaskStatus::kRunning;
  EXPECT_FALSE(ParseTaskStatus("bogus", &untouched));
  EXPECT_EQ(untouched, TaskStatus::kRunning);
  EXPECT_TRUE(IsTerminal(TaskStatus::kSkipped));
  EXPECT_TRUE(IsTerminal(TaskStatus::kCancelled));
  EXPECT_FALSE(IsTerminal(TaskStatus::kWaiting));
  EXPECT_FALSE(IsTerminal(TaskStatus::kRunning));
}

TEST(RequestRunTest, FirstAdvanceDispatchesOnlyRoots) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop"},
    {"id": "b", "type": "noop", "depends_on": ["a"]},
    {"id": "c", "type": "noop"},
    {"id": "d", "type": "noop", "depends_on": ["c", "b"]}
  ]})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {});
  auto actions = run.Advance();
  EXPECT_EQ(TasksOf(run, actions, Kind::kDispatch), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(actions.size(), 2u);
  for (const auto& a : actions) EXPECT_FALSE(a.recheck);
  EXPECT_EQ(run.busy_nodes(), 2);
  // Dispatched tasks are busy: asking again yields nothing new and no finish.
  EXPECT_TRUE(run.Advance().empty());
  EXPECT_FALSE(run.finishing());
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(run.status(i), TaskStatus::kPending);
}

TEST(RequestRunTest, DiamondRunsToSuccess) {
  auto tmpl = MustParse(kDiamond);
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest({{"n", 5}, {"user", {{"name", "eve"}}}}), tmpl, {});
  EXPECT_EQ(run.request().trace_id, "trace-abc");
  EXPECT_EQ((*run.data())["n"], 5);

  auto actions = run.Advance();
  ASSERT_EQ(TasksOf(run, actions, Kind::kDispatch), std::vector<std::string>{"a"});
  size_t a = Idx(run, "a"), b = Idx(run, "b"), c = Idx(run, "c"), d = Idx(run, "d");
  auto pa = run.ResolveParams(a);
  ASSERT_TRUE(pa.ok()) << pa.status().ToString();
  EXPECT_EQ(*pa, json({{"n", 5}}));

  EXPECT_EQ(run.StartAttempt(a, false), 1);
  EXPECT_EQ(run.status(a), TaskStatus::kRunning);
  EXPECT_EQ(run.attempts(a), 1);
  EXPECT_TRUE(run.Advance().empty());
  run.Apply(a, TaskStatus::kSucceeded, {{"v", 7}}, "");
  EXPECT_EQ(run.status(a), TaskStatus::kSucceeded);
  EXPECT_EQ(run.busy_nodes(), 0);

  actions = run.Advance();
  EXPECT_EQ(TasksOf(run, actions, Kind::kDispatch), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(actions.size(), 2u);
  auto pb = run.ResolveParams(b);
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  EXPECT_EQ(*pb, json({{"x", 7}, {"who", "eve"}, {"rid", "11111111-2222-4333-8444-555555555555"}}));

  run.StartAttempt(b, false);
  run.StartAttempt(c, false);
  run.Apply(b, TaskStatus::kSucceeded, {{"r", "B"}}, "");
  // d needs both b and c.
  EXPECT_TRUE(run.Advance().empty());
  run.Apply(c, TaskStatus::kSucceeded, {{"r", "C"}}, "");
  actions = run.Advance();
  ASSERT_EQ(TasksOf(run, actions, Kind::kDispatch), std::vector<std::string>{"d"});
  auto pd = run.ResolveParams(d);
  ASSERT_TRUE(pd.ok()) << pd.status().ToString();
  EXPECT_EQ(*pd, json({{"joined", "B+C"}, {"trace", "trace-abc"}}));

  run.StartAttempt(d, false);
  EXPECT_TRUE(run.Advance().empty());
  run.Apply(d, TaskStatus::kSucceeded, {{"final", {{"ok", true}}}}, "");
  actions = run.Advance();
  ASSERT_EQ(actions.size(), 1u);
  const RunAction* finish = FindFinish(actions);
  ASSERT_NE(finish, nullptr);
  EXPECT_EQ(finish->status, "succeeded");
  EXPECT_EQ(finish->error, "");
  EXPECT_EQ(finish->outputs, json::parse(R"({"result": {"ok": true}, "a_status": "succeeded",
      "rid": "11111111-2222-4333-8444-555555555555", "all": ["B", 5]})"));
  EXPECT_TRUE(run.finishing());
  // The finish is returned once.
  EXPECT_TRUE(run.Advance().empty());
}

TEST(RequestRunTest, TemplateWithoutOutputsFinishesWithEmptyOutputs) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [{"id": "only", "type": "noop"}]})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {});
  ASSERT_EQ(run.Advance().size(), 1u);
  Succeed(run, "only", {{"x", 1}});
  auto actions = run.Advance();
  const RunAction* finish = FindFinish(actions);
  ASSERT_NE(finish, nullptr);
  EXPECT_EQ(finish->status, "succeeded");
  EXPECT_EQ(finish->outputs, json::object());
}

TEST(RequestRunTest, FailureSkipsRemainingTasksAndAwaitsRunningOnes) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop"},
    {"id": "b", "type": "noop"},
    {"id": "c", "type": "noop", "depends_on": ["a"]},
    {"id": "d", "type": "noop", "depends_on": ["b"]},
    {"id": "e", "type": "noop", "depends_on": ["c", "d"]}
  ]})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {});
  auto actions = run.Advance();
  ASSERT_EQ(TasksOf(run, actions, Kind::kDispatch), (std::vector<std::string>{"a", "b"}));
  size_t a = Idx(run, "a"), b = Idx(run, "b");
  run.StartAttempt(a, false);
  run.StartAttempt(b, false);
  run.Apply(a, TaskStatus::kFailed, nullptr, "connection refused");
  EXPECT_EQ(run.status(a), TaskStatus::kFailed);

  actions = run.Advance();
  EXPECT_TRUE(TasksOf(run, actions, Kind::kDispatch).empty());
  EXPECT_EQ(TasksOf(run, actions, Kind::kSkip), (std::vector<std::string>{"c", "d", "e"}));
  EXPECT_EQ(FindFinish(actions), nullptr);
  for (const auto& act : actions) run.Apply(act.node, TaskStatus::kSkipped, nullptr, "");

  // b is still running: no finish yet.
  EXPECT_TRUE(run.Advance().empty());
  EXPECT_FALSE(run.finishing());
  EXPECT_EQ(run.busy_nodes(), 1);

  run.Apply(b, TaskStatus::kSucceeded, {{"ok", 1}}, "");
  actions = run.Advance();
  ASSERT_EQ(actions.size(), 1u);
  const RunAction* finish = FindFinish(actions);
  ASSERT_NE(finish, nullptr);
  EXPECT_EQ(finish->status, "failed");
  EXPECT_NE(finish->error.find("task 'a' failed"), std::string::npos) << finish->error;
  EXPECT_NE(finish->error.find("connection refused"), std::string::npos) << finish->error;
  EXPECT_EQ(run.status(b), TaskStatus::kSucceeded);
  EXPECT_EQ(run.status(Idx(run, "e")), TaskStatus::kSkipped);
}

TEST(RequestRunTest, FirstFailureIsTheOneReported) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop"}, {"id": "b", "type": "noop"}
  ]})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {});
  ASSERT_EQ(run.Advance().size(), 2u);
  run.StartAttempt(0, false);
  run.StartAttempt(1, false);
  run.Apply(1, TaskStatus::kFailed, nullptr, "second task broke first");
  run.Apply(0, TaskStatus::kFailed, nullptr, "first task broke later");
  const auto actions = run.Advance();
  const RunAction* finish = FindFinish(actions);
  ASSERT_NE(finish, nullptr);
  EXPECT_EQ(finish->status, "failed");
  EXPECT_NE(finish->error.find("task 'b' failed: second task broke first"), std::string::npos)
      << finish->error;
}

TEST(RequestRunTest, WaitingTaskIsRecheckedWithoutANewAttempt) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "w", "type": "noop"},
    {"id": "after", "type": "noop", "depends_on": ["w"]}
  ]})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {});
  size_t w = Idx(run, "w");
  auto actions = run.Advance();
  ASSERT_EQ(TasksOf(run, actions, Kind::kDispatch), std::vector<std::string>{"w"});
  EXPECT_EQ(run.StartAttempt(w, false), 1);
  run.Apply(w, TaskStatus::kWaiting, nullptr, "");
  EXPECT_EQ(run.status(w), TaskStatus::kWaiting);
  EXPECT_EQ(run.busy_nodes(), 1);
  EXPECT_TRUE(run.Advance().empty());
  EXPECT_TRUE(run.Advance().empty());

  run.MarkRecheckDue(w);
  actions = run.Advance();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kDispatch);
  EXPECT_EQ(actions[0].node, w);
  EXPECT_TRUE(actions[0].recheck);
  // The recheck is dispatched once.
  EXPECT_TRUE(run.Advance().empty());
  EXPECT_EQ(run.StartAttempt(w, true), 1);
  EXPECT_EQ(run.attempts(w), 1);
  EXPECT_EQ(run.status(w), TaskStatus::kRunning);

  // Still pending after the recheck.
  run.Apply(w, TaskStatus::kWaiting, nullptr, "");
  EXPECT_TRUE(run.Advance().empty());
  run.MarkRecheckDue(w);
  actions = run.Advance();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_TRUE(actions[0].recheck);
  EXPECT_EQ(run.StartAttempt(w, true), 1);

  run.Apply(w, TaskStatus::kSucceeded, {{"job", "done"}}, "");
  actions = run.Advance();
  ASSERT_EQ(TasksOf(run, actions, Kind::kDispatch), std::vector<std::string>{"after"});
  EXPECT_FALSE(actions[0].recheck);
  EXPECT_EQ(run.attempts(w), 1);
}

TEST(RequestRunTest, MarkRecheckDueIgnoresTasksThatAreNotWaiting) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [{"id": "a", "type": "noop"}]})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {});
  ASSERT_EQ(run.Advance().size(), 1u);
  run.StartAttempt(0, false);
  run.MarkRecheckDue(0);  // running, not waiting
  EXPECT_TRUE(run.Advance().empty());
  EXPECT_EQ(run.busy_nodes(), 1);
}

TEST(RequestRunTest, RetryAttemptsCount) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [{"id": "a", "type": "noop"}]})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {});
  EXPECT_EQ(run.StartAttempt(0, false), 1);
  EXPECT_EQ(run.StartAttempt(0, false), 2);
  EXPECT_EQ(run.attempts(0), 2);
}

TEST(RequestRunTest, ResumesFromPriorRows) {
  auto tmpl = MustParse(kDiamond);
  ASSERT_TRUE(tmpl);
  std::vector<TaskRunRow> prior = {
      Row("a", "succeeded", 1, {{"v", 3}}), Row("b", "running", 1), Row("c", "waiting", 2),
      Row("gone", "succeeded", 1),  // a task no longer in the template
  };
  RequestRun run(MakeRequest({{"n", 1}, {"user", {{"name", "x"}}}}), tmpl, prior);
  size_t a = Idx(run, "a"), b = Idx(run, "b"), c = Idx(run, "c"), d = Idx(run, "d");
  EXPECT_EQ(run.status(a), TaskStatus::kSucceeded);
  EXPECT_EQ(run.status(b), TaskStatus::kPending);
  EXPECT_EQ(run.status(c), TaskStatus::kWaiting);
  EXPECT_EQ(run.status(d), TaskStatus::kPending);
  EXPECT_EQ(run.attempts(a), 1);
  EXPECT_EQ(run.attempts(c), 2);

  auto actions = run.Advance();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].kind, Kind::kDispatch);
  EXPECT_EQ(actions[0].node, b);
  EXPECT_FALSE(actions[0].recheck);
  EXPECT_EQ(actions[1].kind, Kind::kDispatch);
  EXPECT_EQ(actions[1].node, c);
  EXPECT_TRUE(actions[1].recheck);

  // The interrupted attempt of b is run again as a new attempt; c keeps its attempt.
  EXPECT_EQ(run.StartAttempt(b, false), 2);
  EXPECT_EQ(run.StartAttempt(c, true), 2);
  auto pb = run.ResolveParams(b);
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  EXPECT_EQ((*pb)["x"], 3);

  run.Apply(b, TaskStatus::kSucceeded, {{"r", 1}}, "");
  run.Apply(c, TaskStatus::kSucceeded, {{"r", 2}}, "");
  actions = run.Advance();
  ASSERT_EQ(TasksOf(run, actions, Kind::kDispatch), std::vector<std::string>{"d"});
  run.StartAttempt(d, false);
  run.Apply(d, TaskStatus::kSucceeded, {{"final", "F"}}, "");
  actions = run.Advance();
  const RunAction* finish = FindFinish(actions);
  ASSERT_NE(finish, nullptr);
  EXPECT_EQ(finish->status, "succeeded");
  EXPECT_EQ(finish->outputs["result"], "F");
  EXPECT_EQ(finish->outputs["a_status"], "succeeded");
}

TEST(RequestRunTest, ResumedRunWithAllTasksDoneFinishesAtOnce) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop"}, {"id": "b", "type": "noop", "depends_on": ["a"]}
  ], "outputs": {"v": "${tasks.b.outputs.v}"}})");
  ASSERT_TRUE(tmpl);
  RequestRun run(
      MakeRequest(), tmpl,
      {Row("a", "succeeded", 1, json::object()), Row("b", "succeeded", 3, {{"v", "z"}})});
  auto actions = run.Advance();
  ASSERT_EQ(actions.size(), 1u);
  ASSERT_EQ(actions[0].kind, Kind::kFinish);
  EXPECT_EQ(actions[0].status, "succeeded");
  EXPECT_EQ(actions[0].outputs, json({{"v", "z"}}));
  EXPECT_EQ(run.attempts(1), 3);
}

TEST(RequestRunTest, PriorFailedRowFailsTheRun) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop"},
    {"id": "b", "type": "noop", "depends_on": ["a"]},
    {"id": "c", "type": "noop"}
  ]})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {Row("a", "failed", 2, nullptr, "disk full")});
  EXPECT_EQ(run.status(0), TaskStatus::kFailed);
  auto actions = run.Advance();
  EXPECT_TRUE(TasksOf(run, actions, Kind::kDispatch).empty());
  EXPECT_EQ(TasksOf(run, actions, Kind::kSkip), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(FindFinish(actions), nullptr);
  for (const auto& act : actions) run.Apply(act.node, TaskStatus::kSkipped, nullptr, "");
  actions = run.Advance();
  const RunAction* finish = FindFinish(actions);
  ASSERT_NE(finish, nullptr);
  EXPECT_EQ(finish->status, "failed");
  EXPECT_NE(finish->error.find("task 'a' failed: disk full"), std::string::npos) << finish->error;
}

TEST(RequestRunTest, PriorSkippedDependencySkipsDependents) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop"},
    {"id": "b", "type": "noop", "depends_on": ["a"]}
  ]})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {Row("a", "skipped", 0)});
  auto actions = run.Advance();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kSkip);
  EXPECT_EQ(actions[0].node, 1u);
}

TEST(RequestRunTest, ResolveParamsReportsMissingUpstreamOutput) {
  auto tmpl = MustParse(kDiamond);
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest({{"n", 2}, {"user", {{"name", "q"}}}}), tmpl, {});
  run.Advance();
  Succeed(run, "a", {{"other", 1}});
  auto pb = run.ResolveParams(Idx(run, "b"));
  ASSERT_FALSE(pb.ok());
  EXPECT_EQ(pb.status().path(), "/tasks/1/params/x");
  EXPECT_NE(pb.status().message().find("no key 'v'"), std::string::npos) << pb.status().message();

  // Request data missing a key.
  RequestRun run2(MakeRequest({{"n", 2}}), tmpl, {});
  run2.Advance();
  Succeed(run2, "a", {{"v", 1}});
  auto pb2 = run2.ResolveParams(Idx(run2, "b"));
  ASSERT_FALSE(pb2.ok());
  EXPECT_EQ(pb2.status().path(), "/tasks/1/params/who");
  EXPECT_NE(pb2.status().message().find("${data.user.name}"), std::string::npos);
}

TEST(RequestRunTest, OutputsReferencingMissingKeyFailTheFinish) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [{"id": "a", "type": "noop"}],
                            "outputs": {"r": "${tasks.a.outputs.nope}"}})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {});
  run.Advance();
  Succeed(run, "a", {{"yes", 1}});
  auto actions = run.Advance();
  const RunAction* finish = FindFinish(actions);
  ASSERT_NE(finish, nullptr);
  EXPECT_EQ(finish->status, "failed");
  EXPECT_NE(finish->error.find("template outputs"), std::string::npos) << finish->error;
  EXPECT_NE(finish->error.find("no key 'nope'"), std::string::npos) << finish->error;
  EXPECT_NE(finish->error.find("/outputs/r"), std::string::npos) << finish->error;
}

TEST(RequestRunTest, FailedRunKeepsTheTaskErrorOverOutputErrors) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [{"id": "a", "type": "noop"}],
                            "outputs": {"r": "${tasks.a.outputs.nope}"}})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {});
  run.Advance();
  run.StartAttempt(0, false);
  run.Apply(0, TaskStatus::kFailed, nullptr, "timeout");
  const RunAction* finish = nullptr;
  auto actions = run.Advance();
  finish = FindFinish(actions);
  ASSERT_NE(finish, nullptr);
  EXPECT_EQ(finish->status, "failed");
  EXPECT_EQ(finish->error, "task 'a' failed: timeout");
}

TEST(RequestRunTest, OutputsSeeTaskStatusAndErrors) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop"}, {"id": "b", "type": "noop", "depends_on": ["a"]}
  ], "outputs": {"a": "${tasks.a.status}", "a_err": "${tasks.a.error}",
                 "b": "${tasks.b.status}", "tries": "${tasks.a.attempts}"}})");
  ASSERT_TRUE(tmpl);
  RequestRun run(MakeRequest(), tmpl, {});
  run.Advance();
  run.StartAttempt(0, false);
  run.Apply(0, TaskStatus::kFailed, nullptr, "bad input");
  auto actions = run.Advance();
  ASSERT_EQ(TasksOf(run, actions, Kind::kSkip), std::vector<std::string>{"b"});
  run.Apply(1, TaskStatus::kSkipped, nullptr, "");
  actions = run.Advance();
  const RunAction* finish = FindFinish(actions);
  ASSERT_NE(finish, nullptr);
  EXPECT_EQ(finish->outputs,
            json({{"a", "failed"}, {"a_err", "bad input"}, {"b", "skipped"}, {"tries", 1}}));
}

}  // namespace
}  // namespace wf
