// Tests for `${...}` expressions: parsing, reference collection and resolution.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "wf/core/expression.h"

namespace wf {
namespace {

class ExpressionTest : public ::testing::Test {
 protected:
  ExpressionTest() {
    data_ = json::parse(R"({
      "name": "Ann",
      "n": 42,
      "f": 1.5,
      "flag": true,
      "nothing": null,
      "obj": {"a": 1, "b": [1, 2]},
      "arr": ["x", "y", "z"],
      "items": [{"name": "first"}, {"name": "second"}],
      "m": [[1, 2], [3, 4]],
      "user": {"name": "bob"},
      "secret": "s3cr3t",
      "evil": "${data.secret}",
      "escaped": "$${data.secret}"
    })");
    request_ = {{"id", "req-1"}, {"trace_id", "trace-9"}, {"template", "wf"}};
    tasks_["fetch"] = json::parse(R"({
      "status": "succeeded",
      "outputs": {"body": {"x": [10, 20]}, "code": 200},
      "error": "",
      "attempts": 2
    })");
    tasks_["later"] =
        json::parse(R"({"status": "pending", "outputs": {}, "error": "", "attempts": 0})");
    scope_.data = &data_;
    scope_.request = &request_;
    scope_.task = [this](const std::string& id) -> const json* {
      auto it = tasks_.find(id);
      return it == tasks_.end() ? nullptr : &it->second;
    };
  }

  json Resolve(const json& value, const std::string& path = "") {
    auto r = ResolveExpressions(value, scope_, path);
    EXPECT_TRUE(r.ok()) << value.dump() << ": " << r.status().ToString();
    return r.ok() ? *r : json("<error>");
  }

  Status ResolveError(const json& value, const std::string& path = "") {
    auto r = ResolveExpressions(value, scope_, path);
    EXPECT_FALSE(r.ok()) << value.dump() << " resolved to " << (r.ok() ? r->dump() : "");
    return r.status();
  }

  json data_;
  json request_;
  std::map<std::string, json> tasks_;
  ExpressionScope scope_;
};

TEST_F(ExpressionTest, SecretsResolveOnlyWhereTheScopeHasThem) {
  json secrets = {{"tfe_token", "tok-123"}};
  // Without secrets in the scope (conditions, template outputs) they are an error.
  Status no = ResolveError("${secrets.tfe_token}", "/outputs/x");
  EXPECT_NE(no.ToString().find("only available in task params"), std::string::npos)
      << no.ToString();
  scope_.secrets = &secrets;
  EXPECT_EQ(Resolve("Bearer ${secrets.tfe_token}"), "Bearer tok-123");
  Status missing = ResolveError("${secrets.other}", "/tasks/0/params/x");
  EXPECT_NE(missing.ToString().find("no secret named 'other'"), std::string::npos);
  EXPECT_NE(missing.ToString().find("WF_SECRET_OTHER"), std::string::npos);
  EXPECT_EQ(missing.ToString().find("tok-123"), std::string::npos);
  // A secret has a name and nothing below it.
  std::vector<FoundReference> refs;
  EXPECT_FALSE(CollectReferences("${secrets}", "/p", &refs).ok());
  EXPECT_FALSE(CollectReferences("${secrets.a.b}", "/p", &refs).ok());
  EXPECT_TRUE(CollectReferences("${secrets.a}", "/p", &refs).ok());
}

TEST_F(ExpressionTest, WholeValueKeepsJsonType) {
  json n = Resolve("${data.n}");
  EXPECT_TRUE(n.is_number_integer());
  EXPECT_EQ(n, 42);
  json f = Resolve("${data.f}");
  EXPECT_TRUE(f.is_number_float());
  EXPECT_DOUBLE_EQ(f.get<double>(), 1.5);
  json obj = Resolve("${data.obj}");
  EXPECT_TRUE(obj.is_object());
  EXPECT_EQ(obj, json::parse(R"({"a": 1, "b": [1, 2]})"));
  json arr = Resolve("${data.arr}");
  EXPECT_TRUE(arr.is_array());
  EXPECT_EQ(arr, json::parse(R"(["x", "y", "z"])"));
  json flag = Resolve("${data.flag}");
  EXPECT_TRUE(flag.is_boolean());
  EXPECT_EQ(flag, true);
  EXPECT_TRUE(Resolve("${data.nothing}").is_null());
  json s = Resolve("${data.name}");
  EXPECT_TRUE(s.is_string());
  EXPECT_EQ(s, "Ann");
  EXPECT_EQ(Resolve("${data}"), data_);
}

TEST_F(ExpressionTest, InterpolatesInsideStrings) {
  EXPECT_EQ(Resolve("Hello ${data.name}!"), "Hello Ann!");
  EXPECT_EQ(Resolve("n=${data.n}"), "n=42");
  EXPECT_EQ(Resolve("o=${data.obj}"), R"(o={"a":1,"b":[1,2]})");
  EXPECT_EQ(Resolve("a=${data.arr}"), R"(a=["x","y","z"])");
  EXPECT_EQ(Resolve("${data.flag} and ${data.nothing}"), "true and null");
  // Two adjacent expressions make a string, not a typed value.
  json two = Resolve("${data.n}${data.n}");
  EXPECT_TRUE(two.is_string());
  EXPECT_EQ(two, "4242");
  EXPECT_EQ(Resolve(" ${data.n}"), " 42");
}

TEST_F(ExpressionTest, LeavesValuesWithoutExpressionsAlone) {
  json value =
      json::parse(R"({"a": 1, "b": [true, null, 2.5], "c": "plain $ {x} text", "d": "}"})");
  EXPECT_EQ(Resolve(value), value);
  // Object keys are never expressions.
  json keyed = {{"${data.n}", "${data.n}"}};
  EXPECT_EQ(Resolve(keyed), json({{"${data.n}", 42}}));
}

TEST_F(ExpressionTest, ResolvesNestedValuesRecursively) {
  json params = json::parse(R"({
    "url": "https://x/${data.user.name}",
    "body": {"count": "${data.n}", "list": ["${data.arr.0}", {"deep": "${data.obj.b}"}, 7]},
    "literal": false
  })");
  json expected = json::parse(R"({
    "url": "https://x/bob",
    "body": {"count": 42, "list": ["x", {"deep": [1, 2]}, 7]},
    "literal": false
  })");
  EXPECT_EQ(Resolve(params, "/tasks/0/params"), expected);
}

TEST_F(ExpressionTest, ErrorsInNestedValuesCarryTheirPath) {
  json params = json::parse(R"({"body": {"list": [1, {"deep": "${data.missing}"}]}})");
  Status s = ResolveError(params, "/tasks/3/params");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.path(), "/tasks/3/params/body/list/1/deep");
  EXPECT_NE(s.message().find("${data.missing}"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no key 'missing'"), std::string::npos) << s.message();

  // Keys holding '/' or '~' are escaped in the pointer.
  s = ResolveError(json{{"a/b", {{"c~d", "${data.none}"}}}}, "/p");
  EXPECT_EQ(s.path(), "/p/a~1b/c~0d");
}

TEST_F(ExpressionTest, IndexesArrays) {
  EXPECT_EQ(Resolve("${data.arr.1}"), "y");
  EXPECT_EQ(Resolve("${data.arr[1]}"), "y");
  EXPECT_EQ(Resolve("${data.items[1].name}"), "second");
  EXPECT_EQ(Resolve("${data.items.0.name}"), "first");
  EXPECT_EQ(Resolve("${data.m[1][0]}"), 3);
  EXPECT_EQ(Resolve("${data.m.0.1}"), 2);
}

TEST_F(ExpressionTest, MissingIndexIsAnError) {
  Status s = ResolveError("${data.arr[5]}", "/x");
  EXPECT_EQ(s.path(), "/x");
  EXPECT_NE(s.message().find("${data.arr[5]}"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no index 5 in an array of 3"), std::string::npos) << s.message();

  s = ResolveError("${data.arr.name}");
  EXPECT_NE(s.message().find("no index name"), std::string::npos) << s.message();
}

TEST_F(ExpressionTest, MissingKeyIsAnError) {
  Status s = ResolveError("mail to ${data.user.email}", "/tasks/0/params/to");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.path(), "/tasks/0/params/to");
  EXPECT_NE(s.message().find("${data.user.email}"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no key 'email'"), std::string::npos) << s.message();
}

TEST_F(ExpressionTest, FieldOfAScalarIsAnError) {
  Status s = ResolveError("${data.n.x}");
  EXPECT_NE(s.message().find("cannot take 'x'"), std::string::npos) << s.message();
}

TEST_F(ExpressionTest, EscapeWritesLiteralDollarBrace) {
  json literal = Resolve("$${data.n}");
  EXPECT_TRUE(literal.is_string());
  EXPECT_EQ(literal, "${data.n}");
  EXPECT_EQ(Resolve("cost: $${x} and ${data.n}"), "cost: ${x} and 42");
  EXPECT_EQ(Resolve("$${"), "${");
  // An escaped expression is not a reference, even a malformed one.
  EXPECT_EQ(Resolve("$${foo.bar"), "${foo.bar");
}

TEST_F(ExpressionTest, RequestFields) {
  EXPECT_EQ(Resolve("${request.id}"), "req-1");
  EXPECT_EQ(Resolve("${request.trace_id}"), "trace-9");
  EXPECT_EQ(Resolve("${request.template}"), "wf");
  EXPECT_EQ(Resolve("r=${request.id}/t=${request.trace_id}"), "r=req-1/t=trace-9");
  Status s = ResolveError("${request.owner}");
  EXPECT_NE(s.message().find("request has id, trace_id and template"), std::string::npos)
      << s.message();
}

TEST_F(ExpressionTest, MissingScopePartsAreErrors) {
  ExpressionScope empty;
  auto r = ResolveExpressions("${data.n}", empty, "/a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().path(), "/a");
  EXPECT_NE(r.status().message().find("no data"), std::string::npos);
  r = ResolveExpressions("${request.id}", empty);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no request"), std::string::npos);
  r = ResolveExpressions("${tasks.fetch.status}", empty);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("task 'fetch' is not available here"), std::string::npos);
}

TEST_F(ExpressionTest, TaskOutputsAndStatus) {
  EXPECT_EQ(Resolve("${tasks.fetch.outputs.code}"), 200);
  EXPECT_EQ(Resolve("${tasks.fetch.outputs.body.x[1]}"), 20);
  EXPECT_EQ(Resolve("${tasks.fetch.outputs.body}"), json::parse(R"({"x": [10, 20]})"));
  EXPECT_EQ(Resolve("${tasks.fetch.outputs}"), tasks_["fetch"]["outputs"]);
  EXPECT_EQ(Resolve("${tasks.fetch.status}"), "succeeded");
  EXPECT_EQ(Resolve("${tasks.fetch.attempts}"), 2);
  EXPECT_EQ(Resolve("${tasks.later.status}"), "pending");
  EXPECT_EQ(Resolve("status=${tasks.fetch.status}"), "status=succeeded");

  Status s = ResolveError("${tasks.ghost.outputs.x}", "/p");
  EXPECT_EQ(s.path(), "/p");
  EXPECT_NE(s.message().find("task 'ghost' is not available here"), std::string::npos)
      << s.message();
  s = ResolveError("${tasks.later.outputs.x}");
  EXPECT_NE(s.message().find("no key 'x'"), std::string::npos) << s.message();
}

TEST_F(ExpressionTest, TaskCallbackGetsTheTaskId) {
  std::vector<std::string> asked;
  ExpressionScope scope;
  json view = {{"status", "running"}, {"outputs", json::object()}};
  scope.task = [&](const std::string& id) -> const json* {
    asked.push_back(id);
    return &view;
  };
  auto r = ResolveExpressions(json::array({"${tasks.one.status}", "${tasks.two-2.status}"}), scope);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::array({"running", "running"}));
  EXPECT_EQ(asked, (std::vector<std::string>{"one", "two-2"}));
}

TEST_F(ExpressionTest, MalformedTaskReferences) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& c : {Case{"${tasks.fetch}", "expected tasks.<id>"},
                        Case{"${tasks.fetch.bogus}", "tasks.<id> has outputs, status"},
                        Case{"${tasks.fetch.status.x}", "has no fields"}}) {
    Status s = ResolveError(c.text, "/q");
    EXPECT_EQ(s.path(), "/q") << c.text;
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << c.text << ": " << s.message();
  }
}

TEST_F(ExpressionTest, ResolvedValuesAreNotEvaluatedAgain) {
  json whole = Resolve("${data.evil}");
  EXPECT_EQ(whole, "${data.secret}");
  EXPECT_EQ(Resolve("x ${data.evil} y"), "x ${data.secret} y");
  // Escapes inside data are not interpreted either.
  EXPECT_EQ(Resolve("${data.escaped}"), "$${data.secret}");
  // Objects that hold expression text come back verbatim.
  tasks_["fetch"]["outputs"]["echo"] = {{"v", "${request.id}"}};
  EXPECT_EQ(Resolve("${tasks.fetch.outputs.echo}"), json({{"v", "${request.id}"}}));
}

TEST_F(ExpressionTest, MalformedExpressions) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& c :
       {Case{"${data.x", "unterminated"}, Case{"ok ${data.x} ${data.y", "unterminated"},
        Case{"${}", "empty expression"}, Case{"${foo.x}", "unknown root 'foo'"},
        Case{"${data..x}", "empty path segment"}, Case{"${data.}", "empty path segment"},
        Case{"${data.a b}", "unexpected character ' '"}, Case{"${ data.x}", "no spaces"},
        Case{"${data.a[x]}", "index must be a number"}, Case{"${data.a[]}", "malformed index"},
        Case{"${data.a[1}", "malformed index"}}) {
    Status s = ResolveError(json{{"k", c.text}}, "/base");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(s.path(), "/base/k") << c.text;
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << c.text << ": " << s.message();

    std::vector<FoundReference> refs;
    Status p = ParseReferences(c.text, "/where", &refs);
    EXPECT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.path(), "/where") << c.text;
  }
}

TEST_F(ExpressionTest, ParseReferencesSplitsPaths) {
  std::vector<FoundReference> refs;
  ASSERT_TRUE(
      ParseReferences("a ${data.a[2].b} b ${tasks.t1.outputs.x-y} $${data.no}", "/p", &refs).ok());
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].ref.root, "data");
  EXPECT_EQ(refs[0].ref.path, (std::vector<std::string>{"a", "2", "b"}));
  EXPECT_EQ(refs[0].ref.text, "data.a[2].b");
  EXPECT_EQ(refs[0].json_path, "/p");
  EXPECT_EQ(refs[1].ref.root, "tasks");
  EXPECT_EQ(refs[1].ref.path, (std::vector<std::string>{"t1", "outputs", "x-y"}));
  EXPECT_EQ(refs[1].ref.text, "tasks.t1.outputs.x-y");

  refs.clear();
  ASSERT_TRUE(ParseReferences("no expressions at all", "/p", &refs).ok());
  EXPECT_TRUE(refs.empty());
}

TEST_F(ExpressionTest, CollectReferencesFindsAllWithPaths) {
  json value = json::parse(R"({
    "a": "${data.x} and ${tasks.t1.outputs.y}",
    "b": ["${request.id}", 5, {"c": "${tasks.t2.status}"}],
    "d": "plain",
    "e": "$${data.not_a_reference}",
    "f/g": "${data.slash}"
  })");
  std::vector<FoundReference> refs;
  ASSERT_TRUE(CollectReferences(value, "/tasks/0/params", &refs).ok());
  std::vector<std::string> found;
  for (const auto& r : refs) found.push_back(r.json_path + " " + r.ref.root + " " + r.ref.text);
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (std::vector<std::string>{
                       "/tasks/0/params/a data data.x",
                       "/tasks/0/params/a tasks tasks.t1.outputs.y",
                       "/tasks/0/params/b/0 request request.id",
                       "/tasks/0/params/b/2/c tasks tasks.t2.status",
                       "/tasks/0/params/f~1g data data.slash",
                   }));
}

TEST_F(ExpressionTest, CollectReferencesReportsFirstMalformedOne) {
  json value = json::parse(R"({"a": "${data.ok}", "b": ["fine", "${nope.x}"]})");
  std::vector<FoundReference> refs;
  Status s = CollectReferences(value, "/outputs", &refs);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.path(), "/outputs/b/1");
  EXPECT_NE(s.message().find("unknown root 'nope'"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace wf
