// Tests for the flow semantics of a request's DAG: triggers, on_failure, when, for_each
// fan-outs, the request deadline and retry bookkeeping (RequestRun), and the template
// fields and retry delays behind them (ParseTemplate, RetryPolicy).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "run_fixtures.h"
#include "wf/core/template.h"
#include "wf/request_run.h"
#include "wf/request_store.h"

namespace wf {

namespace {

using Kind = RunAction::Kind;

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kDispatch:
      return "dispatch";
    case Kind::kSkip:
      return "skip";
    case Kind::kFail:
      return "fail";
    case Kind::kCancel:
      return "cancel";
    case Kind::kStartGroup:
      return "start_group";
    case Kind::kFinishGroup:
      return "finish_group";
    case Kind::kFinish:
      return "finish";
  }
  return "?";
}

}  // namespace

// Prints action kinds by name in failure messages.
static void PrintTo(RunAction::Kind k, std::ostream* os) { *os << KindName(k); }

namespace {

using fixtures::MakeRequest;
using fixtures::MustParse;
using fixtures::Row;

std::string KindsText(const std::vector<Kind>& kinds) {
  std::string out = "[";
  for (size_t i = 0; i < kinds.size(); ++i)
    out += (i ? ", " : "") + std::string(KindName(kinds[i]));
  return out + "]";
}

// Drives a RequestRun the way the engine does: every bookkeeping action is applied as if
// its write had committed (skip → skipped, cancel → cancelled, fail → failed, finish group
// → its status), a dispatch starts an attempt and leaves the node running until the test
// ends it with End().
class Driver {
 public:
  explicit Driver(std::shared_ptr<const Template> tmpl, json data = json::object(),
                  const std::vector<TaskRunRow>& prior = {})
      : run(MakeRequest(std::move(data)), std::move(tmpl), prior) {}

  // Advances until nothing new happens; returns every action, in order.
  std::vector<RunAction> Settle() {
    std::vector<RunAction> all;
    for (int guard = 0; guard < 1000; ++guard) {
      auto actions = run.Advance();
      if (actions.empty()) break;
      for (const auto& a : actions) Handle(a);
      all.insert(all.end(), actions.begin(), actions.end());
    }
    return all;
  }

  // A running node ended (committed) with `status`.
  void End(const std::string& id, TaskStatus status, json outputs = json::object(),
           const std::string& error = "") {
    size_t n = Node(id);
    ASSERT_TRUE(running.count(n)) << id << " is not running";
    running.erase(n);
    run.Apply(n, status, std::move(outputs), error);
  }

  size_t Node(const std::string& id) const {
    for (size_t i = 0; i < run.nodes(); ++i) {
      if (run.node_id(i) == id) return i;
    }
    ADD_FAILURE() << "no node " << id;
    return 0;
  }

  bool HasNode(const std::string& id) const {
    for (size_t i = 0; i < run.nodes(); ++i) {
      if (run.node_id(i) == id) return true;
    }
    return false;
  }

  // The kinds of every action about node `id`, in order.
  std::vector<Kind> Kinds(const std::string& id) const {
    std::vector<Kind> out;
    auto it = by_node.find(id);
    if (it == by_node.end()) return out;
    for (const auto& a : it->second) out.push_back(a.kind);
    return out;
  }

  // The last action of `kind` about `id`, or nullptr.
  const RunAction* Last(const std::string& id, Kind kind) const {
    auto it = by_node.find(id);
    if (it == by_node.end()) return nullptr;
    for (auto a = it->second.rbegin(); a != it->second.rend(); ++a) {
      if (a->kind == kind) return &*a;
    }
    return nullptr;
  }

  // Running nodes that are instances of a fan-out.
  int RunningInstances() const {
    int n = 0;
    for (size_t i : running) n += run.node_id(i).back() == ']' ? 1 : 0;
    return n;
  }

  RequestRun run;
  std::set<size_t> running;
  std::map<std::string, std::vector<RunAction>> by_node;
  std::optional<RunAction> finish;
  int finishes = 0;

 private:
  void Handle(const RunAction& a) {
    switch (a.kind) {
      case Kind::kDispatch:
        run.StartAttempt(a.node, a.recheck);
        running.insert(a.node);
        break;
      case Kind::kSkip:
        run.Apply(a.node, TaskStatus::kSkipped, nullptr, "");
        break;
      case Kind::kCancel:
        run.Apply(a.node, TaskStatus::kCancelled, nullptr, a.error);
        break;
      case Kind::kFail:
        run.Apply(a.node, TaskStatus::kFailed, nullptr, a.error);
        break;
      case Kind::kStartGroup:
        break;  // recorded as running; nothing to apply
      case Kind::kFinishGroup: {
        TaskStatus s = TaskStatus::kPending;
        EXPECT_TRUE(ParseTaskStatus(a.status, &s)) << a.status;
        run.Apply(a.node, s, a.outputs, a.error);
        break;
      }
      case Kind::kFinish:
        finish = a;
        ++finishes;
        return;
    }
    by_node[run.node_id(a.node)].push_back(a);
  }
};

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// ---------------------------------------------------------------------------------------
// Triggers

enum class Outcome { kSucceeded, kFailed, kSkipped };

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kSkipped:
      return "skipped";
  }
  return "?";
}

struct TriggerCase {
  const char* trigger;
  Outcome a, b;
  Kind c;  // what happens to c: kDispatch or kSkip
  // How many of a and b have ended when c is decided: 2, except all_succeeded, which
  // skips as soon as one dependency did not succeed. A skipped dependency (when: false)
  // ends first, before the running one.
  int decided_after;
};

TEST(FlowSemanticsTest, TriggerTruthTable) {
  using O = Outcome;
  const std::vector<TriggerCase> cases = {
      {"all_succeeded", O::kSucceeded, O::kSucceeded, Kind::kDispatch, 2},
      {"all_succeeded", O::kSucceeded, O::kFailed, Kind::kSkip, 2},
      {"all_succeeded", O::kFailed, O::kFailed, Kind::kSkip, 1},
      {"all_succeeded", O::kSucceeded, O::kSkipped, Kind::kSkip, 1},
      {"all_done", O::kSucceeded, O::kSucceeded, Kind::kDispatch, 2},
      {"all_done", O::kSucceeded, O::kFailed, Kind::kDispatch, 2},
      {"all_done", O::kFailed, O::kFailed, Kind::kDispatch, 2},
      {"all_done", O::kSucceeded, O::kSkipped, Kind::kDispatch, 2},
      {"any_failed", O::kSucceeded, O::kSucceeded, Kind::kSkip, 2},
      {"any_failed", O::kSucceeded, O::kFailed, Kind::kDispatch, 2},
      {"any_failed", O::kFailed, O::kFailed, Kind::kDispatch, 2},
      {"any_failed", O::kSucceeded, O::kSkipped, Kind::kSkip, 2},
  };
  for (const auto& tc : cases) {
    const std::string label = std::string("trigger ") + tc.trigger + ", a " + OutcomeName(tc.a) +
                              ", b " + OutcomeName(tc.b) + ": c should " + KindName(tc.c);
    SCOPED_TRACE(label);
    json a = {{"id", "a"}, {"type", "noop"}, {"on_failure", "continue"}};
    json b = {{"id", "b"}, {"type", "noop"}, {"on_failure", "continue"}};
    if (tc.a == O::kSkipped) a["when"] = false;
    if (tc.b == O::kSkipped) b["when"] = false;
    json doc = {
        {"name", "wf"},
        {"tasks",
         {a,
          b,
          {{"id", "c"}, {"type", "noop"}, {"depends_on", {"a", "b"}}, {"trigger", tc.trigger}}}}};
    auto tmpl = MustParse(doc);
    ASSERT_TRUE(tmpl);
    ASSERT_EQ(TriggerName(tmpl->tasks[2].trigger), std::string(tc.trigger));
    Driver d(tmpl);

    int ended = 0;
    auto check_c = [&]() {
      auto kinds = d.Kinds("c");
      if (ended < tc.decided_after) {
        EXPECT_TRUE(kinds.empty()) << label << ": decided with only " << ended
                                   << " of 2 dependencies ended: " << KindsText(kinds);
      } else {
        ASSERT_EQ(kinds.size(), 1u)
            << label << " after " << ended << " ended: " << KindsText(kinds);
        EXPECT_EQ(kinds[0], tc.c) << label << " after " << ended << " ended";
      }
      EXPECT_EQ(d.finishes, 0) << label;
    };

    d.Settle();
    for (const auto& [id, outcome] : {std::pair{"a", tc.a}, std::pair{"b", tc.b}}) {
      const auto expected = outcome == O::kSkipped ? std::vector<Kind>{Kind::kSkip}
                                                   : std::vector<Kind>{Kind::kDispatch};
      EXPECT_EQ(d.Kinds(id), expected) << label << ": " << id;
      if (outcome == O::kSkipped) ++ended;
    }
    check_c();

    std::vector<std::string> failed;
    for (const auto& [id, outcome] : {std::pair{"a", tc.a}, std::pair{"b", tc.b}}) {
      if (outcome == O::kSkipped) continue;
      if (outcome == O::kSucceeded) {
        d.End(id, TaskStatus::kSucceeded);
      } else {
        d.End(id, TaskStatus::kFailed, nullptr, std::string(id) + " broke");
        failed.push_back(id);
      }
      ++ended;
      d.Settle();
      if (ended < 2) check_c();
    }
    ASSERT_EQ(ended, 2);
    auto kinds = d.Kinds("c");
    ASSERT_EQ(kinds.size(), 1u) << label << ": " << KindsText(kinds);
    EXPECT_EQ(kinds[0], tc.c) << label;

    if (tc.c == Kind::kDispatch) {
      EXPECT_EQ(d.finishes, 0) << label << ": finished while c runs";
      d.End("c", TaskStatus::kSucceeded);
      d.Settle();
    }
    ASSERT_EQ(d.finishes, 1) << label;
    EXPECT_EQ(d.finish->status, "succeeded") << label;
    std::string error;
    if (!failed.empty()) {
      error = "completed with failed tasks: " + failed[0];
      for (size_t k = 1; k < failed.size(); ++k) error += ", " + failed[k];
    }
    EXPECT_EQ(d.finish->error, error) << label;
  }
}

// ---------------------------------------------------------------------------------------
// on_failure

TEST(FlowSemanticsTest, FailWorkflowSkipsAllSucceededButRunsAllDoneAndAnyFailed) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop"},
    {"id": "b", "type": "noop"},
    {"id": "c", "type": "noop", "depends_on": ["a"]},
    {"id": "d", "type": "noop", "depends_on": ["a", "b"], "trigger": "all_done"},
    {"id": "e", "type": "noop", "depends_on": ["a"], "trigger": "any_failed"},
    {"id": "x", "type": "noop", "depends_on": ["b"]}
  ]})");
  ASSERT_TRUE(tmpl);
  Driver d(tmpl);
  d.Settle();
  EXPECT_EQ(d.Kinds("a"), std::vector<Kind>{Kind::kDispatch});
  EXPECT_EQ(d.Kinds("b"), std::vector<Kind>{Kind::kDispatch});

  d.End("a", TaskStatus::kFailed, nullptr, "boom");
  d.Settle();
  // c depends on the failure; x has not started (b still runs): both are skipped.
  EXPECT_EQ(d.Kinds("c"), std::vector<Kind>{Kind::kSkip});
  EXPECT_EQ(d.Kinds("x"), std::vector<Kind>{Kind::kSkip});
  // The rollback runs at once; the cleanup waits for b.
  EXPECT_EQ(d.Kinds("e"), std::vector<Kind>{Kind::kDispatch});
  EXPECT_TRUE(d.Kinds("d").empty()) << KindsText(d.Kinds("d"));
  EXPECT_EQ(d.finishes, 0);

  // A second failure does not replace the first error.
  d.End("e", TaskStatus::kFailed, nullptr, "rollback broke too");
  d.Settle();
  EXPECT_EQ(d.finishes, 0) << "finished while b is still running";
  EXPECT_TRUE(d.Kinds("d").empty());

  d.End("b", TaskStatus::kSucceeded, {{"ok", true}});
  d.Settle();
  EXPECT_EQ(d.Kinds("d"), std::vector<Kind>{Kind::kDispatch});
  EXPECT_EQ(d.Kinds("x"), std::vector<Kind>{Kind::kSkip}) << "x must not run after b succeeds";
  EXPECT_EQ(d.finishes, 0) << "finished while d is still running";

  d.End("d", TaskStatus::kSucceeded);
  d.Settle();
  ASSERT_EQ(d.finishes, 1);
  EXPECT_EQ(d.finish->status, "failed");
  EXPECT_EQ(d.finish->error, "task 'a' failed: boom");
  EXPECT_EQ(d.run.status(d.Node("b")), TaskStatus::kSucceeded);
  EXPECT_EQ(d.run.status(d.Node("c")), TaskStatus::kSkipped);
  EXPECT_EQ(d.run.status(d.Node("d")), TaskStatus::kSucceeded);
  EXPECT_EQ(d.run.status(d.Node("x")), TaskStatus::kSkipped);
  EXPECT_TRUE(d.Settle().empty()) << "the finish is returned once";
}

TEST(FlowSemanticsTest, AllDoneAndAnyFailedFanOutsStillRunAfterFailure) {
  for (const char* trigger : {"all_done", "any_failed"}) {
    SCOPED_TRACE(trigger);
    json doc = json::parse(R"({"name": "wf", "tasks": [
      {"id": "a", "type": "noop"},
      {"id": "g", "type": "noop", "depends_on": ["a"], "for_each": [1, 2, 3],
       "params": {"v": "${item}"}}
    ]})");
    doc["tasks"][1]["trigger"] = trigger;
    auto tmpl = MustParse(doc);
    ASSERT_TRUE(tmpl);
    Driver d(tmpl);
    d.Settle();
    d.End("a", TaskStatus::kFailed, nullptr, "boom");
    d.Settle();
    EXPECT_EQ(d.Kinds("g"), std::vector<Kind>{Kind::kStartGroup});
    for (int i = 0; i < 3; ++i) {
      const std::string id = "g[" + std::to_string(i) + "]";
      EXPECT_EQ(d.Kinds(id), std::vector<Kind>{Kind::kDispatch})
          << trigger << " fan-out after a failure: " << id << " should run, got "
          << KindsText(d.Kinds(id));
    }
  }
}

TEST(FlowSemanticsTest, ContinueEndsSucceededListingFailedTasks) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop", "on_failure": "continue"},
    {"id": "b", "type": "noop", "depends_on": ["a"]},
    {"id": "c", "type": "noop", "on_failure": "continue"},
    {"id": "d", "type": "noop"},
    {"id": "e", "type": "noop", "depends_on": ["d"]}
  ], "outputs": {"a": "${tasks.a.status}", "a_error": "${tasks.a.error}"}})");
  ASSERT_TRUE(tmpl);
  Driver d(tmpl);
  d.Settle();
  d.End("a", TaskStatus::kFailed, nullptr, "a broke");
  d.Settle();
  // The request goes on: b's dependency failed, so b is skipped, but d's chain runs.
  EXPECT_EQ(d.Kinds("b"), std::vector<Kind>{Kind::kSkip});
  d.End("d", TaskStatus::kSucceeded);
  d.Settle();
  EXPECT_EQ(d.Kinds("e"), std::vector<Kind>{Kind::kDispatch})
      << "a continue failure must not stop unrelated tasks";
  d.End("c", TaskStatus::kFailed, nullptr, "c broke");
  d.Settle();
  EXPECT_EQ(d.finishes, 0);
  d.End("e", TaskStatus::kSucceeded);
  d.Settle();
  ASSERT_EQ(d.finishes, 1);
  EXPECT_EQ(d.finish->status, "succeeded");
  EXPECT_EQ(d.finish->error, "completed with failed tasks: a, c");
  EXPECT_EQ(d.finish->outputs, json({{"a", "failed"}, {"a_error", "a broke"}}));
}

TEST(FlowSemanticsTest, FailWorkflowAfterContinueFailureReportsTheWorkflowFailure) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "soft", "type": "noop", "on_failure": "continue"},
    {"id": "hard", "type": "noop", "on_failure": "fail_workflow"}
  ]})");
  ASSERT_TRUE(tmpl);
  EXPECT_EQ(tmpl->tasks[0].on_failure, OnFailure::kContinue);
  EXPECT_EQ(tmpl->tasks[1].on_failure, OnFailure::kFailWorkflow);
  Driver d(tmpl);
  d.Settle();
  d.End("soft", TaskStatus::kFailed, nullptr, "soft error");
  d.Settle();
  EXPECT_EQ(d.finishes, 0);
  d.End("hard", TaskStatus::kFailed, nullptr, "hard error");
  d.Settle();
  ASSERT_EQ(d.finishes, 1);
  EXPECT_EQ(d.finish->status, "failed");
  EXPECT_EQ(d.finish->error, "task 'hard' failed: hard error");
}

// ---------------------------------------------------------------------------------------
// when

TEST(FlowSemanticsTest, WhenLiteralFalseSkipsTaskAndDependents) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop", "when": false},
    {"id": "b", "type": "noop", "depends_on": ["a"]},
    {"id": "c", "type": "noop", "when": true}
  ]})");
  ASSERT_TRUE(tmpl);
  EXPECT_FALSE(tmpl->tasks[0].when_literal);
  EXPECT_TRUE(tmpl->tasks[2].when_literal);
  Driver d(tmpl);
  d.Settle();
  EXPECT_EQ(d.Kinds("a"), std::vector<Kind>{Kind::kSkip});
  EXPECT_EQ(d.Kinds("b"), std::vector<Kind>{Kind::kSkip});
  EXPECT_EQ(d.Kinds("c"), std::vector<Kind>{Kind::kDispatch});
  d.End("c", TaskStatus::kSucceeded);
  d.Settle();
  ASSERT_EQ(d.finishes, 1);
  EXPECT_EQ(d.finish->status, "succeeded");
  EXPECT_EQ(d.finish->error, "");
}

TEST(FlowSemanticsTest, WhenConditionDecidesWhetherTheTaskRuns) {
  const char* text = R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop", "when": "${data.mode} == 'fast' and ${data.n} >= 2"},
    {"id": "b", "type": "noop", "depends_on": ["a"]},
    {"id": "cleanup", "type": "noop", "depends_on": ["a"], "trigger": "all_done"}
  ]})";
  auto tmpl = MustParse(text);
  ASSERT_TRUE(tmpl);
  ASSERT_TRUE(tmpl->tasks[0].when);

  {
    SCOPED_TRACE("condition false");
    Driver d(tmpl, {{"mode", "slow"}, {"n", 5}});
    d.Settle();
    EXPECT_EQ(d.Kinds("a"), std::vector<Kind>{Kind::kSkip});
    EXPECT_EQ(d.Kinds("b"), std::vector<Kind>{Kind::kSkip}) << "all_succeeded after a skip";
    EXPECT_EQ(d.Kinds("cleanup"), std::vector<Kind>{Kind::kDispatch}) << "all_done after a skip";
    d.End("cleanup", TaskStatus::kSucceeded);
    d.Settle();
    ASSERT_EQ(d.finishes, 1);
    EXPECT_EQ(d.finish->status, "succeeded");
    EXPECT_EQ(d.finish->error, "");
  }
  {
    SCOPED_TRACE("condition true");
    Driver d(tmpl, {{"mode", "fast"}, {"n", 2}});
    d.Settle();
    EXPECT_EQ(d.Kinds("a"), std::vector<Kind>{Kind::kDispatch});
    EXPECT_TRUE(d.Kinds("b").empty());
    d.End("a", TaskStatus::kSucceeded);
    d.Settle();
    EXPECT_EQ(d.Kinds("b"), std::vector<Kind>{Kind::kDispatch});
    EXPECT_EQ(d.Kinds("cleanup"), std::vector<Kind>{Kind::kDispatch});
  }
}

TEST(FlowSemanticsTest, WhenReferencingMissingKeyFailsTheTask) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop", "when": "${data.missing} == 1"},
    {"id": "b", "type": "noop", "depends_on": ["a"]}
  ]})");
  ASSERT_TRUE(tmpl);
  Driver d(tmpl, {{"present", 1}});
  d.Settle();
  ASSERT_EQ(d.Kinds("a"), std::vector<Kind>{Kind::kFail});
  const std::string& error = d.Last("a", Kind::kFail)->error;
  EXPECT_TRUE(StartsWith(error, "when:")) << error;
  EXPECT_NE(error.find("missing"), std::string::npos) << error;
  EXPECT_EQ(d.Kinds("b"), std::vector<Kind>{Kind::kSkip});
  ASSERT_EQ(d.finishes, 1);
  EXPECT_EQ(d.finish->status, "failed");
  EXPECT_EQ(d.finish->error, "task 'a' failed: " + error);
}

TEST(FlowSemanticsTest, WhenSeesUpstreamOutputs) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop"},
    {"id": "b", "type": "noop", "depends_on": ["a"], "when": "${tasks.a.outputs.n} > 2"}
  ]})");
  ASSERT_TRUE(tmpl);
  struct Case {
    int n;
    Kind b;
  };
  for (const Case& c : {Case{3, Kind::kDispatch}, Case{2, Kind::kSkip}, Case{-7, Kind::kSkip}}) {
    SCOPED_TRACE("a.outputs.n = " + std::to_string(c.n));
    Driver d(tmpl);
    d.Settle();
    EXPECT_TRUE(d.Kinds("b").empty()) << "decided before a ended";
    d.End("a", TaskStatus::kSucceeded, {{"n", c.n}});
    d.Settle();
    EXPECT_EQ(d.Kinds("b"), std::vector<Kind>{c.b})
        << "n = " << c.n << ": b should " << KindName(c.b) << ", got " << KindsText(d.Kinds("b"));
  }
}

// ---------------------------------------------------------------------------------------
// for_each

const char* kFanOut = R"({"name": "wf", "tasks": [
  {"id": "g", "type": "noop", "for_each": "${data.items}", "concurrency": 2,
   "params": {"it": "${item}", "i": "${index}", "label": "${item.name}-${index}"}},
  {"id": "after", "type": "noop", "depends_on": ["g"],
   "params": {"x": "${tasks.g.outputs.3.x}", "all": "${tasks.g.outputs}"}}
], "outputs": {"count": "${tasks.g.status}"}})";

TEST(FlowSemanticsTest, ForEachRespectsConcurrencyAndCollectsOutputsInIndexOrder) {
  auto tmpl = MustParse(kFanOut);
  ASSERT_TRUE(tmpl);
  EXPECT_EQ(tmpl->tasks[0].concurrency, 2);
  EXPECT_TRUE(tmpl->tasks[0].fan_out());
  json items = json::array();
  for (int i = 0; i < 5; ++i) items.push_back({{"name", "n" + std::to_string(i)}});
  Driver d(tmpl, {{"items", items}});

  auto actions = d.Settle();
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions[0].kind, Kind::kStartGroup);
  EXPECT_EQ(d.run.node_id(actions[0].node), "g");
  ASSERT_EQ(d.run.nodes(), 7u) << "2 template tasks and 5 instances";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(d.run.node_id(2 + i), "g[" + std::to_string(i) + "]");
    EXPECT_EQ(d.run.spec(2 + i).id, "g");
  }
  EXPECT_EQ(d.RunningInstances(), 2);
  EXPECT_EQ(d.Kinds("g[0]"), std::vector<Kind>{Kind::kDispatch});
  EXPECT_EQ(d.Kinds("g[1]"), std::vector<Kind>{Kind::kDispatch});
  EXPECT_TRUE(d.Kinds("g[2]").empty());

  // End the highest-numbered running instance each time, so they end out of order.
  int ended = 0, max_running = d.RunningInstances();
  std::set<std::string> checked_params;
  while (!d.running.empty()) {
    for (size_t node : d.running) {
      const std::string id = d.run.node_id(node);
      ASSERT_EQ(id.back(), ']') << id << " started before the group finished";
      if (!checked_params.insert(id).second) continue;
      const int i = std::stoi(id.substr(2));
      auto params = d.run.ResolveParams(node);
      ASSERT_TRUE(params.ok()) << id << ": " << params.status().ToString();
      EXPECT_EQ(*params, json({{"it", items[i]},
                               {"i", i},
                               {"label", "n" + std::to_string(i) + "-" + std::to_string(i)}}))
          << id;
    }
    const std::string id = d.run.node_id(*d.running.rbegin());
    const int i = std::stoi(id.substr(2));
    EXPECT_FALSE(d.Last("g", Kind::kFinishGroup)) << "group finished with " << ended << " ended";
    d.End(id, TaskStatus::kSucceeded, {{"x", i * 10}});
    ++ended;
    d.Settle();
    max_running = std::max(max_running, d.RunningInstances());
    EXPECT_LE(d.RunningInstances(), 2) << "after " << id << " ended";
    if (ended < 5) {
      EXPECT_FALSE(d.Last("g", Kind::kFinishGroup)) << "group finished with " << ended << " ended";
    } else {
      break;
    }
  }
  EXPECT_EQ(ended, 5);
  EXPECT_EQ(max_running, 2);
  EXPECT_EQ(checked_params.size(), 5u);

  const RunAction* done = d.Last("g", Kind::kFinishGroup);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->status, "succeeded");
  EXPECT_EQ(done->error, "");
  EXPECT_EQ(done->outputs,
            json::parse(R"([{"x": 0}, {"x": 10}, {"x": 20}, {"x": 30}, {"x": 40}])"));
  EXPECT_EQ(d.run.status(d.Node("g")), TaskStatus::kSucceeded);

  ASSERT_EQ(d.Kinds("after"), std::vector<Kind>{Kind::kDispatch});
  auto params = d.run.ResolveParams(d.Node("after"));
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  EXPECT_EQ((*params)["x"], 30);
  EXPECT_EQ((*params)["all"], done->outputs);
  d.End("after", TaskStatus::kSucceeded);
  d.Settle();
  ASSERT_EQ(d.finishes, 1);
  EXPECT_EQ(d.finish->status, "succeeded");
  EXPECT_EQ(d.finish->outputs, json({{"count", "succeeded"}}));
}

TEST(FlowSemanticsTest, ForEachOneFailedInstanceFailsTheGroup) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "g", "type": "noop", "for_each": [1, 2, 3, 4, 5], "params": {"v": "${item}"}},
    {"id": "after", "type": "noop", "depends_on": ["g"]}
  ]})");
  ASSERT_TRUE(tmpl);
  Driver d(tmpl);
  d.Settle();
  ASSERT_EQ(d.RunningInstances(), 5) << "no concurrency limit";
  for (int i = 0; i < 5; ++i) {
    const std::string id = "g[" + std::to_string(i) + "]";
    if (i == 2) {
      d.End(id, TaskStatus::kFailed, nullptr, "bad item");
    } else {
      d.End(id, TaskStatus::kSucceeded, {{"v", i + 1}});
    }
    d.Settle();
    if (i < 4) {
      EXPECT_FALSE(d.Last("g", Kind::kFinishGroup)) << "group finished with " << i + 1 << " ended";
      EXPECT_EQ(d.finishes, 0);
    }
  }
  const RunAction* done = d.Last("g", Kind::kFinishGroup);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->status, "failed");
  EXPECT_TRUE(StartsWith(done->error, "1 of 5 instances failed")) << done->error;
  EXPECT_NE(done->error.find("g[2]"), std::string::npos) << done->error;
  EXPECT_NE(done->error.find("bad item"), std::string::npos) << done->error;
  ASSERT_EQ(done->outputs.size(), 5u);
  EXPECT_EQ(done->outputs[0], json({{"v", 1}}));
  EXPECT_EQ(done->outputs[4], json({{"v", 5}}));
  EXPECT_EQ(d.run.status(d.Node("g")), TaskStatus::kFailed);
  EXPECT_EQ(d.Kinds("after"), std::vector<Kind>{Kind::kSkip});
  ASSERT_EQ(d.finishes, 1);
  EXPECT_EQ(d.finish->status, "failed");
  EXPECT_EQ(d.finish->error, "task 'g' failed: " + done->error);
}

TEST(FlowSemanticsTest, ForEachEmptyListFinishesTheGroupAtOnce) {
  auto tmpl = MustParse(kFanOut);
  ASSERT_TRUE(tmpl);
  Driver d(tmpl, {{"items", json::array()}});
  auto actions = d.Settle();
  EXPECT_EQ(d.Kinds("g"), (std::vector<Kind>{Kind::kStartGroup, Kind::kFinishGroup}));
  EXPECT_EQ(d.run.nodes(), 2u) << "no instances";
  const RunAction* done = d.Last("g", Kind::kFinishGroup);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->status, "succeeded");
  EXPECT_EQ(done->outputs, json::array());
  EXPECT_EQ(d.run.status(d.Node("g")), TaskStatus::kSucceeded);
  // The dependent runs; ${tasks.g.outputs.3.x} is then missing from the empty list.
  ASSERT_EQ(d.Kinds("after"), std::vector<Kind>{Kind::kDispatch});
  auto params = d.run.ResolveParams(d.Node("after"));
  ASSERT_FALSE(params.ok());
  EXPECT_EQ(params.status().path(), "/tasks/1/params/x");
}

TEST(FlowSemanticsTest, ForEachThatIsNotAListFails) {
  struct Case {
    json data;
    const char* expect;  // in the error
  };
  const std::vector<Case> cases = {
      {{{"items", 5}}, "list"},
      {{{"items", "a,b"}}, "list"},
      {{{"items", {{"k", 1}}}}, "list"},
      {{{"other", 1}}, "items"},
  };
  auto tmpl = MustParse(kFanOut);
  ASSERT_TRUE(tmpl);
  for (const auto& c : cases) {
    SCOPED_TRACE("data " + c.data.dump());
    Driver d(tmpl, c.data);
    d.Settle();
    ASSERT_EQ(d.Kinds("g"), std::vector<Kind>{Kind::kFail}) << KindsText(d.Kinds("g"));
    const std::string& error = d.Last("g", Kind::kFail)->error;
    EXPECT_TRUE(StartsWith(error, "for_each:")) << error;
    EXPECT_NE(error.find(c.expect), std::string::npos) << error;
    EXPECT_EQ(d.run.nodes(), 2u) << "no instances";
    EXPECT_EQ(d.Kinds("after"), std::vector<Kind>{Kind::kSkip});
    ASSERT_EQ(d.finishes, 1);
    EXPECT_EQ(d.finish->status, "failed");
    EXPECT_EQ(d.finish->error, "task 'g' failed: " + error);
  }
}

TEST(FlowSemanticsTest, ForEachResumesFromPriorInstanceRows) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "g", "type": "noop", "for_each": ["p", "q", "r"], "params": {"v": "${item}"}}
  ], "outputs": {"all": "${tasks.g.outputs}"}})");
  ASSERT_TRUE(tmpl);
  Driver d(tmpl, json::object(),
           {Row("g", "running", 1), Row("g[0]", "succeeded", 1, {{"v", "P"}}),
            Row("g[1]", "running", 1)});
  EXPECT_EQ(d.run.status(0), TaskStatus::kPending) << "expanded again on the first Advance";
  d.Settle();
  EXPECT_EQ(d.Kinds("g"), std::vector<Kind>{Kind::kStartGroup});
  ASSERT_TRUE(d.HasNode("g[0]"));
  EXPECT_TRUE(d.Kinds("g[0]").empty()) << "an instance that already succeeded is not run again";
  EXPECT_EQ(d.run.status(d.Node("g[0]")), TaskStatus::kSucceeded);
  EXPECT_EQ(d.Kinds("g[1]"), std::vector<Kind>{Kind::kDispatch});
  EXPECT_EQ(d.Kinds("g[2]"), std::vector<Kind>{Kind::kDispatch});
  EXPECT_FALSE(d.Last("g[1]", Kind::kDispatch)->recheck);
  EXPECT_EQ(d.run.attempts(d.Node("g[1]")), 2) << "the interrupted attempt is run again";
  EXPECT_EQ(d.run.attempts(d.Node("g[2]")), 1);
  auto params = d.run.ResolveParams(d.Node("g[1]"));
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  EXPECT_EQ(*params, json({{"v", "q"}}));

  d.End("g[1]", TaskStatus::kSucceeded, {{"v", "Q"}});
  d.End("g[2]", TaskStatus::kSucceeded, {{"v", "R"}});
  d.Settle();
  const RunAction* done = d.Last("g", Kind::kFinishGroup);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->status, "succeeded");
  EXPECT_EQ(done->outputs, json::parse(R"([{"v": "P"}, {"v": "Q"}, {"v": "R"}])"));
  ASSERT_EQ(d.finishes, 1);
  EXPECT_EQ(d.finish->status, "succeeded");
  EXPECT_EQ(d.finish->outputs, json({{"all", done->outputs}}));
}

// ---------------------------------------------------------------------------------------
// Request deadline

TEST(FlowSemanticsTest, ExpireCancelsWaitingSkipsNotStartedAndRunsCleanup) {
  auto tmpl = MustParse(R"({"name": "wf", "timeout_ms": 5000, "tasks": [
    {"id": "w", "type": "noop"},
    {"id": "r", "type": "noop"},
    {"id": "s", "type": "noop", "depends_on": ["r"]},
    {"id": "cleanup", "type": "noop", "depends_on": ["w", "r"], "trigger": "all_done"}
  ]})");
  ASSERT_TRUE(tmpl);
  EXPECT_EQ(tmpl->timeout_ms, 5000);
  Driver d(tmpl);
  d.Settle();
  d.End("w", TaskStatus::kWaiting);
  d.Settle();
  EXPECT_EQ(d.run.status(d.Node("w")), TaskStatus::kWaiting);

  const std::string reason = "request deadline of 5000 ms exceeded";
  d.run.Expire(reason);
  d.Settle();
  ASSERT_EQ(d.Kinds("w"), (std::vector<Kind>{Kind::kDispatch, Kind::kCancel}));
  EXPECT_EQ(d.Last("w", Kind::kCancel)->error, reason);
  EXPECT_EQ(d.run.status(d.Node("w")), TaskStatus::kCancelled);
  EXPECT_EQ(d.Kinds("s"), std::vector<Kind>{Kind::kSkip});
  EXPECT_TRUE(d.Kinds("cleanup").empty()) << "waits for r";
  EXPECT_EQ(d.Kinds("r"), std::vector<Kind>{Kind::kDispatch}) << "running tasks are not cancelled";
  EXPECT_EQ(d.finishes, 0);

  // A due recheck of the cancelled task is ignored.
  d.run.MarkRecheckDue(d.Node("w"));
  EXPECT_TRUE(d.Settle().empty());

  d.End("r", TaskStatus::kSucceeded);
  d.Settle();
  EXPECT_EQ(d.Kinds("cleanup"), std::vector<Kind>{Kind::kDispatch});
  EXPECT_EQ(d.finishes, 0);
  d.End("cleanup", TaskStatus::kSucceeded);
  d.Settle();
  ASSERT_EQ(d.finishes, 1);
  EXPECT_EQ(d.finish->status, "failed");
  EXPECT_EQ(d.finish->error, reason);
}

TEST(FlowSemanticsTest, ExpireAfterATaskFailureKeepsTheFirstError) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop"}, {"id": "w", "type": "noop"}
  ]})");
  ASSERT_TRUE(tmpl);
  Driver d(tmpl);
  d.Settle();
  d.End("a", TaskStatus::kFailed, nullptr, "boom");
  d.End("w", TaskStatus::kWaiting);
  d.Settle();
  d.run.Expire("deadline");
  d.Settle();
  ASSERT_EQ(d.Kinds("w"), (std::vector<Kind>{Kind::kDispatch, Kind::kCancel}));
  ASSERT_EQ(d.finishes, 1);
  EXPECT_EQ(d.finish->status, "failed");
  EXPECT_EQ(d.finish->error, "task 'a' failed: boom");
}

// ---------------------------------------------------------------------------------------
// Retry bookkeeping

TEST(FlowSemanticsTest, RetryStartsANewAttemptAndRecheckKeepsIt) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [
    {"id": "a", "type": "noop", "retry": {"max_attempts": 3}},
    {"id": "b", "type": "noop", "depends_on": ["a"]}
  ]})");
  ASSERT_TRUE(tmpl);
  EXPECT_EQ(tmpl->tasks[0].retry.max_attempts, 3);
  Driver d(tmpl);
  const size_t a = d.Node("a");
  d.Settle();
  EXPECT_EQ(d.run.attempts(a), 1);

  // Attempt 1 failed in a retryable way: wait, then a new attempt.
  d.End("a", TaskStatus::kWaiting, nullptr, "HTTP 503");
  d.run.MarkRetry(a);
  EXPECT_TRUE(d.Settle().empty()) << "not due yet";
  d.run.MarkRecheckDue(a);
  auto actions = d.Settle();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kDispatch);
  EXPECT_EQ(actions[0].node, a);
  EXPECT_FALSE(actions[0].recheck) << "a retry is a new attempt";
  EXPECT_EQ(d.run.attempts(a), 2);

  // Attempt 2 started an external job: a recheck of the same attempt.
  d.End("a", TaskStatus::kWaiting);
  d.run.MarkRecheckDue(a);
  actions = d.Settle();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kDispatch);
  EXPECT_TRUE(actions[0].recheck) << "a recheck is the same attempt";
  EXPECT_EQ(d.run.attempts(a), 2);

  d.End("a", TaskStatus::kSucceeded);
  d.Settle();
  EXPECT_EQ(d.Kinds("b"), std::vector<Kind>{Kind::kDispatch});
  EXPECT_EQ(d.run.attempts(a), 2);
}

TEST(FlowSemanticsTest, PriorWaitingRowResumesAsRetryOrRecheck) {
  auto tmpl = MustParse(R"({"name": "wf", "tasks": [{"id": "a", "type": "noop"}]})");
  ASSERT_TRUE(tmpl);
  {
    SCOPED_TRACE("waiting with an error: a retry");
    Driver d(tmpl, json::object(), {Row("a", "waiting", 1, nullptr, "HTTP 503")});
    EXPECT_EQ(d.run.status(0), TaskStatus::kWaiting);
    auto actions = d.Settle();
    ASSERT_EQ(actions.size(), 1u);
    EXPECT_EQ(actions[0].kind, Kind::kDispatch);
    EXPECT_FALSE(actions[0].recheck);
    EXPECT_EQ(d.run.attempts(0), 2);
  }
  {
    SCOPED_TRACE("waiting without an error: a recheck");
    Driver d(tmpl, json::object(), {Row("a", "waiting", 1)});
    auto actions = d.Settle();
    ASSERT_EQ(actions.size(), 1u);
    EXPECT_EQ(actions[0].kind, Kind::kDispatch);
    EXPECT_TRUE(actions[0].recheck);
    EXPECT_EQ(d.run.attempts(0), 1);
  }
}

// ---------------------------------------------------------------------------------------
// RetryPolicy::DelayMs

TEST(FlowSemanticsTest, RetryDelayGrowsExponentiallyUpToTheCap) {
  RetryPolicy p;
  p.initial_delay_ms = 1000;
  p.multiplier = 2.0;
  p.max_delay_ms = 60000;
  p.jitter = 0;
  EXPECT_EQ(p.DelayMs(1, 0.5), 1000);
  EXPECT_EQ(p.DelayMs(2, 0.5), 2000);
  EXPECT_EQ(p.DelayMs(3, 0.5), 4000);
  EXPECT_EQ(p.DelayMs(6, 0.5), 32000);
  EXPECT_EQ(p.DelayMs(7, 0.5), 60000) << "64000 capped";
  EXPECT_EQ(p.DelayMs(50, 0.5), 60000);
  EXPECT_EQ(p.DelayMs(1000000, 0.5), 60000);
  // jitter 0: unit_random has no effect.
  EXPECT_EQ(p.DelayMs(3, 0.0), 4000);
  EXPECT_EQ(p.DelayMs(3, 0.999), 4000);

  RetryPolicy q;
  q.initial_delay_ms = 100;
  q.multiplier = 1.5;
  q.max_delay_ms = 100000;
  q.jitter = 0;
  EXPECT_EQ(q.DelayMs(3, 0.5), 225);

  RetryPolicy capped;
  capped.initial_delay_ms = 5000;
  capped.max_delay_ms = 3000;
  capped.jitter = 0;
  EXPECT_EQ(capped.DelayMs(1, 0.5), 3000);
}

TEST(FlowSemanticsTest, RetryDelayJitterStaysWithinBounds) {
  RetryPolicy p;
  p.initial_delay_ms = 1000;
  p.multiplier = 2.0;
  p.max_delay_ms = 60000;
  p.jitter = 0.2;
  // unit_random 0.5 is the midpoint: no spread.
  EXPECT_EQ(p.DelayMs(1, 0.5), 1000);
  // 0 gives the low end, 1000 * 0.8.
  EXPECT_GE(p.DelayMs(1, 0.0), 799);
  EXPECT_LE(p.DelayMs(1, 0.0), 800);
  // 0.999 is near the high end, 1000 * 1.2 (excluded).
  EXPECT_GE(p.DelayMs(1, 0.999), 1199);
  EXPECT_LT(p.DelayMs(1, 0.999), 1200);
  for (int attempt = 1; attempt <= 10; ++attempt) {
    p.jitter = 0;
    const int64_t base = p.DelayMs(attempt, 0.5);
    p.jitter = 0.2;
    for (double u : {0.0, 0.25, 0.5, 0.75, 0.999}) {
      const int64_t v = p.DelayMs(attempt, u);
      EXPECT_GE(v, static_cast<int64_t>(base * 0.8) - 1) << "attempt " << attempt << " u " << u;
      EXPECT_LT(v, static_cast<int64_t>(base * 1.2)) << "attempt " << attempt << " u " << u;
    }
  }
  // Jitter spreads the capped delay too.
  EXPECT_GE(p.DelayMs(20, 0.0), 47999);
  EXPECT_LE(p.DelayMs(20, 0.0), 48000);
  // A full jitter can reach 0 but never goes below it.
  p.jitter = 1.0;
  EXPECT_GE(p.DelayMs(1, 0.0), 0);
  EXPECT_LE(p.DelayMs(1, 0.0), 1);
}

// ---------------------------------------------------------------------------------------
// Template fields

TEST(FlowSemanticsTest, ParseTemplateReadsFlowFields) {
  auto tmpl = MustParse(R"({"name": "wf", "timeout_ms": 90000, "tasks": [
    {"id": "a", "type": "noop", "timeout_ms": 1500, "on_failure": "continue",
     "retry": {"max_attempts": 4, "initial_delay_ms": 10, "multiplier": 3, "max_delay_ms": 500,
               "jitter": 0.5}},
    {"id": "g", "type": "noop", "depends_on": ["a"], "trigger": "any_failed",
     "for_each": ["x", "y"], "concurrency": 3, "when": "exists ${tasks.a.outputs.k}",
     "params": {"v": "${item}", "i": "${index}"}},
    {"id": "z", "type": "noop", "depends_on": ["g"], "trigger": "all_done", "when": false}
  ]})");
  ASSERT_TRUE(tmpl);
  EXPECT_EQ(tmpl->timeout_ms, 90000);
  const TaskSpec& a = tmpl->tasks[0];
  EXPECT_EQ(a.timeout_ms, 1500);
  EXPECT_EQ(a.on_failure, OnFailure::kContinue);
  EXPECT_EQ(a.trigger, Trigger::kAllSucceeded);
  EXPECT_FALSE(a.fan_out());
  EXPECT_EQ(a.concurrency, 0);
  EXPECT_FALSE(a.when);
  EXPECT_TRUE(a.when_literal);
  EXPECT_EQ(a.retry.max_attempts, 4);
  EXPECT_EQ(a.retry.initial_delay_ms, 10);
  EXPECT_DOUBLE_EQ(a.retry.multiplier, 3.0);
  EXPECT_EQ(a.retry.max_delay_ms, 500);
  EXPECT_DOUBLE_EQ(a.retry.jitter, 0.5);
  const TaskSpec& g = tmpl->tasks[1];
  EXPECT_EQ(g.trigger, Trigger::kAnyFailed);
  EXPECT_EQ(g.on_failure, OnFailure::kFailWorkflow);
  EXPECT_TRUE(g.fan_out());
  EXPECT_EQ(g.for_each, json({"x", "y"}));
  EXPECT_EQ(g.concurrency, 3);
  ASSERT_TRUE(g.when);
  EXPECT_EQ(g.when->text(), "exists ${tasks.a.outputs.k}");
  EXPECT_EQ(g.timeout_ms, 0);
  const TaskSpec& z = tmpl->tasks[2];
  EXPECT_EQ(z.trigger, Trigger::kAllDone);
  EXPECT_FALSE(z.when_literal);
  EXPECT_STREQ(TriggerName(Trigger::kAllDone), "all_done");
  EXPECT_STREQ(TriggerName(Trigger::kAnyFailed), "any_failed");
  EXPECT_STREQ(TriggerName(Trigger::kAllSucceeded), "all_succeeded");
}

struct ParseErrorCase {
  const char* name;
  const char* doc;
  const char* path;     // the exact JSON pointer of the error
  const char* message;  // a part of its message
};

TEST(FlowSemanticsTest, ParseTemplateRejectsBadFlowFields) {
  const std::vector<ParseErrorCase> cases = {
      {"unknown trigger",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "trigger": "sometimes"}]})",
       "/tasks/0/trigger", "all_succeeded, all_done or any_failed"},
      {"trigger not a string",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop"},
           {"id": "b", "type": "noop", "trigger": 1}]})",
       "/tasks/1/trigger", "all_succeeded, all_done or any_failed"},
      {"unknown on_failure",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "on_failure": "ignore"}]})",
       "/tasks/0/on_failure", "fail_workflow or continue"},
      {"on_failure not a string",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "on_failure": false}]})",
       "/tasks/0/on_failure", "fail_workflow or continue"},
      {"when a number", R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "when": 1}]})",
       "/tasks/0/when", "a condition (string) or a boolean"},
      {"when an object",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "when": {"x": 1}}]})",
       "/tasks/0/when", "a condition (string) or a boolean"},
      {"when a dangling comparison",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "when": "${data.x} =="}]})",
       "/tasks/0/when", "condition"},
      {"when with unbalanced parentheses",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "when": "(${data.x} == 1"}]})",
       "/tasks/0/when", "condition"},
      {"when with a bad reference",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "when": "${nope.x} == 1"}]})",
       "/tasks/0/when", "unknown root"},
      {"concurrency without for_each",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "concurrency": 2}]})",
       "/tasks/0/concurrency", "only applies to a for_each task"},
      {"concurrency zero",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "for_each": [1],
           "concurrency": 0}]})",
       "/tasks/0/concurrency", "positive integer"},
      {"for_each a plain string",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "for_each": "items"}]})",
       "/tasks/0/for_each", "an expression giving a list, or an array"},
      {"for_each a number",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "for_each": 3}]})",
       "/tasks/0/for_each", "an expression giving a list, or an array"},
      {"for_each an object",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "for_each": {"k": 1}}]})",
       "/tasks/0/for_each", "an expression giving a list, or an array"},
      {"item without for_each",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "params": {"v": "${item}"}}]})",
       "/tasks/0/params/v", "only defined in the params of a for_each task"},
      {"index without for_each",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop",
           "params": {"deep": {"i": "n-${index}"}}}]})",
       "/tasks/0/params/deep/i", "only defined in the params of a for_each task"},
      {"item inside the for_each expression",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "for_each": "${item.list}"}]})",
       "/tasks/0/for_each", "only defined in the params of a for_each task"},
      {"negative task timeout_ms",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "timeout_ms": -5}]})",
       "/tasks/0/timeout_ms", "positive integer"},
      {"zero task timeout_ms",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "timeout_ms": 0}]})",
       "/tasks/0/timeout_ms", "positive integer"},
      {"fractional task timeout_ms",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop", "timeout_ms": 1.5}]})",
       "/tasks/0/timeout_ms", "positive integer"},
      {"negative template timeout_ms",
       R"({"name": "wf", "timeout_ms": -1, "tasks": [{"id": "a", "type": "noop"}]})", "/timeout_ms",
       "positive integer"},
      {"when naming a task that is not upstream",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop"},
           {"id": "b", "type": "noop", "when": "${tasks.a.outputs.ok} == true"}]})",
       "/tasks/1/when", "not upstream"},
      {"when naming a downstream task",
       R"({"name": "wf", "tasks": [
           {"id": "a", "type": "noop", "when": "${tasks.b.status} == 'succeeded'"},
           {"id": "b", "type": "noop", "depends_on": ["a"]}]})",
       "/tasks/0/when", "not upstream"},
      {"when naming an unknown task",
       R"({"name": "wf", "tasks": [{"id": "a", "type": "noop",
           "when": "${tasks.ghost.status} == 'succeeded'"}]})",
       "/tasks/0/when", "unknown task 'ghost'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<TemplateError> errors;
    auto r = ParseTemplate(json::parse(c.doc), nullptr, &errors);
    EXPECT_FALSE(r.ok()) << c.name << ": accepted";
    bool found = false;
    for (const auto& e : errors) {
      if (e.path == c.path && e.message.find(c.message) != std::string::npos) found = true;
    }
    EXPECT_TRUE(found) << c.name << ": expected an error at " << c.path << " containing '"
                       << c.message << "', got:\n"
                       << FormatTemplateErrors(errors);
  }
}

TEST(FlowSemanticsTest, ParseTemplateRejectsItemInTheWhenOfAForEachTask) {
  // `when` is evaluated once for the whole group, before it expands, so ${item} and
  // ${index} have no value there; they are only defined in the params of a for_each task.
  for (const char* when : {"${item} > 1", "${index} == 0"}) {
    SCOPED_TRACE(when);
    json doc = json::parse(R"({"name": "wf", "tasks": [{"id": "a", "type": "noop",
        "for_each": [1, 2], "params": {"v": "${item}"}}]})");
    doc["tasks"][0]["when"] = when;
    std::vector<TemplateError> errors;
    auto r = ParseTemplate(doc, nullptr, &errors);
    EXPECT_FALSE(r.ok()) << "accepted a when that can never be evaluated: " << when;
    bool found = false;
    for (const auto& e : errors) {
      if (e.path == "/tasks/0/when" &&
          e.message.find("only defined in the params of a for_each task") != std::string::npos) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << "expected an error at /tasks/0/when, got:\n"
                       << FormatTemplateErrors(errors);
  }
}

}  // namespace
}  // namespace wf
