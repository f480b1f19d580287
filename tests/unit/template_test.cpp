// Tests for ParseTemplate: the DAG it builds and every validation error with its JSON path.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "wf/core/template.h"
#include "wf/task.h"

namespace wf {
namespace {

// Accepts any params.
class NoopTask : public Task {
 public:
  TaskOutcome Run(TaskContext&) const override { return TaskOutcome::Succeeded(); }
};

// Requires a string "url" and, when given, "options.mode" to be "fast" or "slow".
class StrictTask : public Task {
 public:
  Status Validate(const json& params, const std::string& json_path) const override {
    Status s = RequireString(params, "url", json_path);
    if (!s.ok()) return s;
    auto options = params.find("options");
    if (options != params.end() && options->is_object()) {
      auto mode = options->find("mode");
      if (mode != options->end() && !IsExpression(*mode) && *mode != "fast" && *mode != "slow") {
        return Status::Invalid("mode must be 'fast' or 'slow'",
                               JsonPathJoin(JsonPathJoin(json_path, "options"), "mode"));
      }
    }
    return Status::Ok();
  }
  TaskOutcome Run(TaskContext&) const override { return TaskOutcome::Succeeded(); }
};

class TemplateTest : public ::testing::Test {
 protected:
  TemplateTest() {
    registry_.Register("noop", std::make_unique<NoopTask>());
    registry_.Register("strict", std::make_unique<StrictTask>());
    checker_ = registry_.Checker();
  }

  Result<std::shared_ptr<const Template>> Parse(const json& doc) {
    errors_.clear();
    return ParseTemplate(doc, checker_, &errors_);
  }

  // Parses `doc`, expects exactly one error and returns it.
  TemplateError ParseOneError(const json& doc) {
    auto r = Parse(doc);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(errors_.size(), 1u) << FormatTemplateErrors(errors_);
    if (errors_.empty()) return {};
    // The returned status carries the first error.
    EXPECT_EQ(r.status().path(), errors_[0].path);
    EXPECT_EQ(r.status().message(), errors_[0].message);
    return errors_[0];
  }

  static json Spec(const std::string& id, const std::string& type = "noop",
                   std::vector<std::string> deps = {}, json params = json::object()) {
    json t = {{"id", id}, {"type", type}};
    if (!deps.empty()) t["depends_on"] = deps;
    if (!params.empty()) t["params"] = std::move(params);
    return t;
  }

  static json Doc(json tasks) { return json{{"name", "wf"}, {"tasks", std::move(tasks)}}; }

  TaskRegistry registry_;
  TaskTypeChecker checker_;
  std::vector<TemplateError> errors_;
};

std::vector<std::string> Ids(const Template& t, const std::vector<size_t>& idx) {
  std::vector<std::string> out;
  for (size_t i : idx) out.push_back(t.tasks[i].id);
  return out;
}

// Every task appears once in topo_order, after all of its dependencies.
void ExpectValidTopoOrder(const Template& t) {
  ASSERT_EQ(t.topo_order.size(), t.tasks.size());
  std::vector<size_t> pos(t.tasks.size(), t.tasks.size());
  for (size_t k = 0; k < t.topo_order.size(); ++k) {
    ASSERT_LT(t.topo_order[k], t.tasks.size());
    ASSERT_EQ(pos[t.topo_order[k]], t.tasks.size()) << "task listed twice";
    pos[t.topo_order[k]] = k;
  }
  for (size_t i = 0; i < t.tasks.size(); ++i) {
    for (size_t d : t.dependencies[i]) {
      EXPECT_LT(pos[d], pos[i]) << t.tasks[d].id << " must come before " << t.tasks[i].id;
    }
  }
}

TEST_F(TemplateTest, ParsesValidTemplate) {
  json doc = {
      {"name", "diamond"},
      {"version", "3"},
      {"description", "a diamond"},
      {"inputs", {{"type", "object"}}},
      {"outputs", {{"result", "${tasks.d.outputs.value}"}}},
      {"tasks",
       {Spec("a"), Spec("b", "noop", {"a"}, {{"x", "${tasks.a.outputs.v}"}}),
        Spec("c", "noop", {"a"}),
        Spec("d", "strict", {"b", "c"},
             {{"url", "${tasks.b.outputs.url}"}, {"options", {{"mode", "fast"}}}})}},
  };
  doc["tasks"][3]["description"] = "joins b and c";
  auto r = Parse(doc);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << FormatTemplateErrors(errors_);
  EXPECT_TRUE(errors_.empty());
  const Template& t = **r;
  EXPECT_EQ(t.name, "diamond");
  EXPECT_EQ(t.version, "3");
  EXPECT_EQ(t.description, "a diamond");
  EXPECT_EQ(t.inputs, json({{"type", "object"}}));
  EXPECT_EQ(t.outputs, json({{"result", "${tasks.d.outputs.value}"}}));
  EXPECT_EQ(t.source, doc);
  ASSERT_EQ(t.tasks.size(), 4u);
  EXPECT_EQ(t.tasks[3].id, "d");
  EXPECT_EQ(t.tasks[3].type, "strict");
  EXPECT_EQ(t.tasks[3].description, "joins b and c");
  EXPECT_EQ(t.tasks[3].json_path, "/tasks/3");
  EXPECT_EQ(t.tasks[3].depends_on, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(t.tasks[3].params["options"]["mode"], "fast");
  EXPECT_EQ(t.tasks[0].params, json::object());

  EXPECT_EQ(t.dependencies[0], std::vector<size_t>{});
  EXPECT_EQ(t.dependencies[1], std::vector<size_t>{0});
  EXPECT_EQ(t.dependencies[2], std::vector<size_t>{0});
  EXPECT_EQ(t.dependencies[3], (std::vector<size_t>{1, 2}));
  EXPECT_EQ(t.dependents[0], (std::vector<size_t>{1, 2}));
  EXPECT_EQ(t.dependents[1], std::vector<size_t>{3});
  EXPECT_EQ(t.dependents[2], std::vector<size_t>{3});
  EXPECT_EQ(t.dependents[3], std::vector<size_t>{});
  EXPECT_EQ(Ids(t, t.topo_order), (std::vector<std::string>{"a", "b", "c", "d"}));
  ExpectValidTopoOrder(t);

  ASSERT_NE(t.Find("c"), nullptr);
  EXPECT_EQ(t.Find("c")->id, "c");
  EXPECT_EQ(t.Find("zz"), nullptr);
  EXPECT_EQ(t.index.at("d"), 3u);
}

TEST_F(TemplateTest, IndependentTasksKeepFileOrder) {
  auto r = Parse(Doc({Spec("zeta"), Spec("alpha"), Spec("mid"), Spec("beta")}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Ids(**r, (*r)->topo_order), (std::vector<std::string>{"zeta", "alpha", "mid", "beta"}));
}

TEST_F(TemplateTest, TopoOrderIsStableInFileOrder) {
  // b and c are independent of each other; b comes first in the file, so it is ordered first
  // even though c becomes ready at the same time (both once a is done).
  auto r = Parse(Doc({Spec("a"), Spec("b"), Spec("c", "noop", {"a"}), Spec("d", "noop", {"b"})}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectValidTopoOrder(**r);
  EXPECT_EQ(Ids(**r, (*r)->topo_order), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(TemplateTest, TopoOrderPutsDependenciesListedLaterFirst) {
  // File order lists dependents before their dependencies.
  auto r = Parse(Doc({Spec("c", "noop", {"b"}), Spec("b", "noop", {"a"}), Spec("a"), Spec("x"),
                      Spec("y", "noop", {"x", "c"})}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Template& t = **r;
  ExpectValidTopoOrder(t);
  // The two roots keep their relative file order.
  auto pos = [&](const std::string& id) {
    return std::find(t.topo_order.begin(), t.topo_order.end(), t.index.at(id)) -
           t.topo_order.begin();
  };
  EXPECT_LT(pos("a"), pos("x"));
  EXPECT_EQ(pos("y"), 4);
}

TEST_F(TemplateTest, HashIsStableAndFollowsContent) {
  json doc = Doc({Spec("a"), Spec("b", "noop", {"a"})});
  auto r1 = Parse(doc);
  auto r2 = Parse(doc);
  ASSERT_TRUE(r1.ok());
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ((*r1)->hash.size(), 64u);
  EXPECT_EQ((*r1)->hash.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ((*r1)->hash, (*r2)->hash);
  EXPECT_EQ((*r1)->hash, ContentHash(doc));

  // Key order and whitespace of the source text do not matter.
  json reordered = json::parse(
      R"({ "tasks": [ {"type":"noop","id":"a"}, {"depends_on":["a"], "type":"noop", "id":"b"} ],
           "name": "wf" })");
  auto r3 = Parse(reordered);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ((*r3)->hash, (*r1)->hash);

  json changed = doc;
  changed["description"] = "now with a description";
  auto r4 = Parse(changed);
  ASSERT_TRUE(r4.ok());
  EXPECT_NE((*r4)->hash, (*r1)->hash);

  json changed_params = doc;
  changed_params["tasks"][0]["params"] = {{"k", 1}};
  auto r5 = Parse(changed_params);
  ASSERT_TRUE(r5.ok());
  EXPECT_NE((*r5)->hash, (*r1)->hash);
  EXPECT_NE((*r5)->hash, (*r4)->hash);
}

TEST_F(TemplateTest, NullCheckerSkipsTypeChecks) {
  auto r = ParseTemplate(Doc({Spec("a", "anything-goes")}), nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->tasks[0].type, "anything-goes");
}

TEST_F(TemplateTest, RejectsNonObject) {
  for (const json& doc : {json::array(), json("text"), json(3), json(nullptr)}) {
    TemplateError e = ParseOneError(doc);
    EXPECT_EQ(e.path, "");
    EXPECT_NE(e.message.find("must be a JSON object"), std::string::npos) << e.message;
  }
}

TEST_F(TemplateTest, RequiresName) {
  TemplateError e = ParseOneError(json{{"tasks", {Spec("a")}}});
  EXPECT_EQ(e.path, "/name");
  EXPECT_EQ(e.message, "is required");
}

TEST_F(TemplateTest, RejectsBadName) {
  TemplateError e = ParseOneError(json{{"name", "bad name"}, {"tasks", {Spec("a")}}});
  EXPECT_EQ(e.path, "/name");
  e = ParseOneError(json{{"name", 5}, {"tasks", {Spec("a")}}});
  EXPECT_EQ(e.path, "/name");
  EXPECT_NE(e.message.find("must be a string"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, RequiresTasks) {
  TemplateError e = ParseOneError(json{{"name", "wf"}});
  EXPECT_EQ(e.path, "/tasks");
  EXPECT_EQ(e.message, "is required");
}

TEST_F(TemplateTest, RejectsEmptyTasks) {
  TemplateError e = ParseOneError(Doc(json::array()));
  EXPECT_EQ(e.path, "/tasks");
  EXPECT_NE(e.message.find("at least one task"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, RejectsTasksThatIsNotAnArray) {
  TemplateError e = ParseOneError(Doc(json{{"a", 1}}));
  EXPECT_EQ(e.path, "/tasks");
  EXPECT_NE(e.message.find("must be an array"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, RejectsUnknownTopLevelField) {
  json doc = Doc({Spec("a")});
  doc["retries"] = 3;
  TemplateError e = ParseOneError(doc);
  EXPECT_EQ(e.path, "/retries");
  EXPECT_EQ(e.message, "unknown field");
}

TEST_F(TemplateTest, RejectsInputsThatIsNotAnObject) {
  json doc = Doc({Spec("a")});
  doc["inputs"] = json::array();
  TemplateError e = ParseOneError(doc);
  EXPECT_EQ(e.path, "/inputs");
}

TEST_F(TemplateTest, RejectsUnknownTaskField) {
  json a = Spec("a");
  json b = Spec("b");
  b["timeout"] = 5;
  TemplateError e = ParseOneError(Doc({a, b}));
  EXPECT_EQ(e.path, "/tasks/1/timeout");
  EXPECT_EQ(e.message, "unknown field");
}

TEST_F(TemplateTest, RejectsTaskThatIsNotAnObject) {
  TemplateError e = ParseOneError(Doc({Spec("a"), json("b")}));
  EXPECT_EQ(e.path, "/tasks/1");
  EXPECT_NE(e.message.find("must be an object"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, RejectsEmptyName) {
  TemplateError e = ParseOneError(json{{"name", ""}, {"tasks", {Spec("a")}}});
  EXPECT_EQ(e.path, "/name");
}

TEST_F(TemplateTest, RejectsEmptyTaskId) {
  TemplateError e = ParseOneError(Doc({Spec("a"), Spec("")}));
  EXPECT_EQ(e.path, "/tasks/1/id");
}

TEST_F(TemplateTest, RejectsEmptyTaskType) {
  TemplateError e = ParseOneError(Doc({Spec("a"), Spec("b", "")}));
  EXPECT_EQ(e.path, "/tasks/1/type");
}

TEST_F(TemplateTest, RequiresTaskIdAndType) {
  TemplateError e = ParseOneError(Doc({json{{"type", "noop"}}}));
  EXPECT_EQ(e.path, "/tasks/0/id");
  EXPECT_EQ(e.message, "is required");
  e = ParseOneError(Doc({json{{"id", "a"}}}));
  EXPECT_EQ(e.path, "/tasks/0/type");
  EXPECT_EQ(e.message, "is required");
}

TEST_F(TemplateTest, RejectsParamsThatIsNotAnObject) {
  json a = Spec("a");
  a["params"] = json::array({1});
  TemplateError e = ParseOneError(Doc({a}));
  EXPECT_EQ(e.path, "/tasks/0/params");
}

TEST_F(TemplateTest, RejectsMistypedDependsOn) {
  json a = Spec("a");
  json b = Spec("b");
  b["depends_on"] = "a";
  TemplateError e = ParseOneError(Doc({a, b}));
  EXPECT_EQ(e.path, "/tasks/1/depends_on");
  b["depends_on"] = json::array({"a", 7});
  e = ParseOneError(Doc({a, b}));
  EXPECT_EQ(e.path, "/tasks/1/depends_on/1");
}

TEST_F(TemplateTest, RejectsDuplicateId) {
  TemplateError e = ParseOneError(Doc({Spec("a"), Spec("b"), Spec("a")}));
  EXPECT_EQ(e.path, "/tasks/2/id");
  EXPECT_NE(e.message.find("duplicate task id 'a'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("/tasks/0"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, RejectsBadIdCharacters) {
  for (const char* id : {"a b", "a.b", "1abc", "-a", "a/b", "a$"}) {
    TemplateError e = ParseOneError(Doc({Spec("ok"), Spec(id)}));
    EXPECT_EQ(e.path, "/tasks/1/id") << id;
    EXPECT_NE(e.message.find(id), std::string::npos) << e.message;
  }
  for (const char* id : {"_a", "a-b_c9", "Z"}) {
    auto r = Parse(Doc({Spec(id)}));
    EXPECT_TRUE(r.ok()) << id << ": " << r.status().ToString();
  }
}

TEST_F(TemplateTest, RejectsSelfDependency) {
  TemplateError e = ParseOneError(Doc({Spec("a"), Spec("b", "noop", {"a", "b"})}));
  EXPECT_EQ(e.path, "/tasks/1/depends_on/1");
  EXPECT_NE(e.message.find("depends on itself"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, RejectsUnknownDependency) {
  TemplateError e = ParseOneError(Doc({Spec("a", "noop", {"zz"})}));
  EXPECT_EQ(e.path, "/tasks/0/depends_on/0");
  EXPECT_NE(e.message.find("unknown task 'zz'"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, RejectsDependencyListedTwice) {
  TemplateError e = ParseOneError(Doc({Spec("a"), Spec("b", "noop", {"a", "a"})}));
  EXPECT_EQ(e.path, "/tasks/1/depends_on/1");
  EXPECT_NE(e.message.find("listed twice"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, ReportsThreeTaskCycleWithItsPath) {
  // alpha <- beta <- gamma <- alpha, plus a root and a task hanging off the cycle.
  TemplateError e = ParseOneError(
      Doc({Spec("root"), Spec("delta", "noop", {"alpha"}), Spec("alpha", "noop", {"gamma", "root"}),
           Spec("beta", "noop", {"alpha"}), Spec("gamma", "noop", {"beta"})}));
  EXPECT_NE(e.message.find("cycle"), std::string::npos) << e.message;
  const std::vector<std::string> loops = {
      "alpha -> beta -> gamma -> alpha", "beta -> gamma -> alpha -> beta",
      "gamma -> alpha -> beta -> gamma", "alpha -> gamma -> beta -> alpha",
      "gamma -> beta -> alpha -> gamma", "beta -> alpha -> gamma -> beta",
  };
  bool found = std::any_of(loops.begin(), loops.end(), [&](const std::string& loop) {
    return e.message.find(loop) != std::string::npos;
  });
  EXPECT_TRUE(found) << e.message;
  EXPECT_EQ(e.message.find("delta"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("root"), std::string::npos) << e.message;
  const std::set<std::string> cycle_paths = {"/tasks/2/depends_on", "/tasks/3/depends_on",
                                             "/tasks/4/depends_on"};
  EXPECT_TRUE(cycle_paths.count(e.path)) << e.path;
}

TEST_F(TemplateTest, ReportsTwoTaskCycle) {
  TemplateError e = ParseOneError(Doc({Spec("a", "noop", {"b"}), Spec("b", "noop", {"a"})}));
  EXPECT_NE(e.message.find("cycle"), std::string::npos) << e.message;
  EXPECT_TRUE(e.message.find("a -> b -> a") != std::string::npos ||
              e.message.find("b -> a -> b") != std::string::npos)
      << e.message;
}

TEST_F(TemplateTest, RejectsUnknownTaskType) {
  TemplateError e = ParseOneError(Doc({Spec("a"), Spec("b", "nope")}));
  EXPECT_EQ(e.path, "/tasks/1/type");
  EXPECT_NE(e.message.find("unknown task type 'nope'"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, CheckerErrorPathPassesThrough) {
  TemplateError e = ParseOneError(
      Doc({Spec("a"),
           Spec("s", "strict", {}, {{"url", "http://x"}, {"options", {{"mode", "turbo"}}}})}));
  EXPECT_EQ(e.path, "/tasks/1/params/options/mode");
  EXPECT_EQ(e.message, "mode must be 'fast' or 'slow'");

  e = ParseOneError(Doc({Spec("s", "strict", {}, {{"other", 1}})}));
  EXPECT_EQ(e.path, "/tasks/0/params/url");
  EXPECT_NE(e.message.find("'url' is required"), std::string::npos) << e.message;

  // Params that still hold expressions are accepted at load time.
  auto r = Parse(Doc({Spec("s", "strict", {},
                           {{"url", "${data.url}"}, {"options", {{"mode", "${data.mode}"}}}})}));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(TemplateTest, CheckerErrorWithoutPathPointsAtParams) {
  TaskTypeChecker checker = [](const std::string&, const json& params, const std::string&) {
    return params.contains("bad") ? Status::Invalid("no bad params") : Status::Ok();
  };
  std::vector<TemplateError> errors;
  auto r =
      ParseTemplate(Doc({Spec("a"), Spec("b", "noop", {}, {{"bad", true}})}), checker, &errors);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/tasks/1/params");
  EXPECT_EQ(errors[0].message, "no bad params");
}

TEST_F(TemplateTest, CheckerSeesTypeParamsAndPath) {
  std::vector<std::string> seen;
  TaskTypeChecker checker = [&](const std::string& type, const json& params,
                                const std::string& path) {
    seen.push_back(type + " " + params.dump() + " " + path);
    return Status::Ok();
  };
  auto r = ParseTemplate(Doc({Spec("a", "t1"), Spec("b", "t2", {}, {{"k", 1}})}), checker);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(seen,
            (std::vector<std::string>{"t1 {} /tasks/0/params", "t2 {\"k\":1} /tasks/1/params"}));
}

TEST_F(TemplateTest, RejectsExpressionNamingTaskThatIsNotUpstream) {
  TemplateError e = ParseOneError(
      Doc({Spec("a"), Spec("b", "noop", {}, {{"x", {{"y", "${tasks.a.outputs.v}"}}}})}));
  EXPECT_EQ(e.path, "/tasks/1/params/x/y");
  EXPECT_NE(e.message.find("not upstream"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("${tasks.a.outputs.v}"), std::string::npos) << e.message;

  // A downstream task is not upstream either.
  e = ParseOneError(
      Doc({Spec("a", "noop", {}, {{"x", "${tasks.b.status}"}}), Spec("b", "noop", {"a"})}));
  EXPECT_EQ(e.path, "/tasks/0/params/x");
  EXPECT_NE(e.message.find("not upstream"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, AcceptsExpressionNamingTransitiveUpstream) {
  auto r = Parse(
      Doc({Spec("a"), Spec("b", "noop", {"a"}),
           Spec("c", "noop", {"b"}, {{"x", "${tasks.a.outputs.v} ${data.k} ${request.id}"}})}));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(TemplateTest, RejectsExpressionNamingTheTaskItself) {
  TemplateError e = ParseOneError(Doc({Spec("a", "noop", {}, {{"x", "${tasks.a.outputs.v}"}})}));
  EXPECT_EQ(e.path, "/tasks/0/params/x");
  EXPECT_NE(e.message.find("not upstream"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, RejectsExpressionNamingUnknownTask) {
  TemplateError e =
      ParseOneError(Doc({Spec("a", "noop", {}, {{"x", "${tasks.ghost.outputs.v}"}})}));
  EXPECT_EQ(e.path, "/tasks/0/params/x");
  EXPECT_NE(e.message.find("unknown task 'ghost'"), std::string::npos) << e.message;
}

TEST_F(TemplateTest, RejectsMalformedExpressions) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& c : {Case{"${data.x", "unterminated"}, Case{"a ${} b", "empty expression"},
                        Case{"${foo.x}", "unknown root 'foo'"}}) {
    TemplateError e = ParseOneError(Doc({Spec("a", "noop", {}, {{"list", {"ok", c.text}}})}));
    EXPECT_EQ(e.path, "/tasks/0/params/list/1") << c.text;
    EXPECT_NE(e.message.find(c.expect), std::string::npos) << c.text << ": " << e.message;
  }
}

TEST_F(TemplateTest, OutputsMayNameAnyTaskButNotUnknownOnes) {
  json doc = Doc({Spec("a"), Spec("b")});
  doc["outputs"] = {{"first", "${tasks.a.outputs.v}"}, {"second", "${tasks.b.status}"}};
  EXPECT_TRUE(Parse(doc).ok());

  doc["outputs"] = {{"r", {{"deep", "${tasks.zz.outputs.v}"}}}};
  TemplateError e = ParseOneError(doc);
  EXPECT_EQ(e.path, "/outputs/r/deep");
  EXPECT_NE(e.message.find("unknown task 'zz'"), std::string::npos) << e.message;

  doc["outputs"] = {{"r", "${data.x"}};
  e = ParseOneError(doc);
  EXPECT_EQ(e.path, "/outputs/r");
}

TEST_F(TemplateTest, ReportsAllErrors) {
  json dup = Spec("a", "noop");
  dup["colour"] = "red";
  json doc = {{"name", "wf"},
              {"extra", 1},
              {"tasks", {Spec("a", "nope"), dup, Spec("b c"), Spec("s", "strict")}}};
  auto r = Parse(doc);
  ASSERT_FALSE(r.ok());
  std::vector<std::string> paths;
  for (const auto& e : errors_) paths.push_back(e.path);
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(paths, (std::vector<std::string>{"/extra", "/tasks/0/type", "/tasks/1/colour",
                                             "/tasks/1/id", "/tasks/2/id", "/tasks/3/params/url"}))
      << FormatTemplateErrors(errors_);
  EXPECT_EQ(r.status().path(), errors_.front().path);

  std::string text = FormatTemplateErrors(errors_);
  EXPECT_NE(text.find("/extra: unknown field\n"), std::string::npos) << text;
  EXPECT_NE(text.find("/tasks/0/type: unknown task type 'nope'\n"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 6);
}

TEST_F(TemplateTest, ReportsAllDependencyErrors) {
  auto r = Parse(Doc({Spec("a", "noop", {"a"}), Spec("b", "noop", {"zz", "a", "a"})}));
  ASSERT_FALSE(r.ok());
  std::vector<std::string> paths;
  for (const auto& e : errors_) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/tasks/0/depends_on/0", "/tasks/1/depends_on/0",
                                             "/tasks/1/depends_on/2"}))
      << FormatTemplateErrors(errors_);
}

TEST_F(TemplateTest, FormatTemplateErrorsUsesSlashForRoot) {
  EXPECT_EQ(FormatTemplateErrors({{"", "bad"}, {"/a/0", "worse"}}), "/: bad\n/a/0: worse\n");
  EXPECT_EQ(FormatTemplateErrors({}), "");
}

}  // namespace
}  // namespace wf
