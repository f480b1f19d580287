// POST /v1/templates/validate against the real server: a template is checked exactly as the
// catalog would check it, every problem is listed with its JSON path, and nothing is stored.
#include <filesystem>
#include <set>
#include <utility>

#include "harness.h"

namespace wf::test {
namespace {

namespace fs = std::filesystem;

using ErrorList = std::set<std::pair<std::string, std::string>>;  // path, message

class Templates : public ApiSuite {
 protected:
  // Posts `doc` and returns the parsed answer; asserts the status.
  static json Validate(const json& doc, int status) {
    auto r = stack_->Post("/v1/templates/validate", doc);
    EXPECT_TRUE(r) << "no answer";
    if (!r) return json();
    EXPECT_EQ(r->status, status) << r->body;
    json body = json::parse(r->body, nullptr, false);
    EXPECT_FALSE(body.is_discarded()) << r->body;
    return body;
  }

  // The errors of a 422 answer, as (path, message) pairs.
  static ErrorList Errors(const json& body) {
    ErrorList out;
    EXPECT_EQ(body["valid"], false) << body.dump();
    EXPECT_EQ(body["error"]["code"], "invalid_template") << body.dump();
    if (!body["errors"].is_array()) {
      ADD_FAILURE() << "no errors list: " << body.dump();
      return out;
    }
    for (const auto& e : body["errors"]) {
      out.emplace(e["path"].get<std::string>(), e["message"].get<std::string>());
    }
    EXPECT_EQ(out.size(), body["errors"].size()) << "duplicate errors: " << body.dump();
    return out;
  }
};

TEST_F(Templates, AValidTemplateAnswersItsDagAndIsNotInstalled) {
  const std::string versions = stack_->Sql("SELECT count(*) FROM template_versions");
  const json doc = json::parse(R"({
    "name": "validate_only",
    "version": "3",
    "description": "a diamond",
    "inputs": {"type": "object", "properties": {"who": {"type": "string"}}},
    "tasks": [
      {"id": "start", "type": "noop", "params": {"outputs": {"who": "${data.who}"}}},
      {"id": "left", "type": "set", "depends_on": ["start"],
       "params": {"x": "${tasks.start.outputs.who}"}},
      {"id": "right", "type": "noop", "depends_on": ["start"]},
      {"id": "join", "type": "noop", "depends_on": ["left", "right"],
       "params": {"outputs": {"x": "${tasks.left.outputs.x}"}}}
    ],
    "outputs": {"x": "${tasks.join.outputs.x}"}
  })");
  json body = Validate(doc, 200);
  EXPECT_EQ(body["valid"], true);
  EXPECT_EQ(body["name"], "validate_only");
  EXPECT_EQ(body["version"], "3");
  ASSERT_TRUE(body["hash"].is_string()) << body.dump();
  EXPECT_EQ(body["hash"].get<std::string>().size(), 64u) << body.dump();
  EXPECT_EQ(body["dag"]["nodes"], json::parse(R"([
    {"id": "start", "type": "noop"}, {"id": "left", "type": "set"},
    {"id": "right", "type": "noop"}, {"id": "join", "type": "noop"}])"));
  EXPECT_EQ(body["dag"]["edges"], json::parse(R"([
    {"from": "start", "to": "left"}, {"from": "start", "to": "right"},
    {"from": "left", "to": "join"}, {"from": "right", "to": "join"}])"));
  // The same document gives the same hash.
  EXPECT_EQ(Validate(doc, 200)["hash"], body["hash"]);

  // Nothing was installed or stored.
  auto list = stack_->Get("/v1/templates");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->status, 200);
  const json templates = json::parse(list->body)["templates"];
  ASSERT_FALSE(templates.empty());
  for (const auto& t : templates) {
    EXPECT_NE(t["name"], "validate_only") << list->body;
  }
  ExpectError(stack_->Get("/v1/templates/validate_only"), 404, "not_found");
  EXPECT_FALSE(fs::exists(stack_->templates_dir() + "/validate_only.json"));
  EXPECT_EQ(stack_->Sql("SELECT count(*) FROM template_versions"), versions);
  ExpectError(stack_->Post("/v1/requests", {{"template", "validate_only"}}), 404,
              "template_not_found");
}

TEST_F(Templates, EveryStructuralErrorIsListedWithItsPath) {
  json body = Validate(json::parse(R"({
    "name": "many_errors",
    "colour": "red",
    "tasks": [
      {"id": "a", "type": "noop", "priority": 5},
      {"id": "b", "type": "no_such_type", "depends_on": ["a"]},
      {"id": "c", "type": "http", "depends_on": ["a"], "params": {"method": "GET"}},
      {"id": "d", "type": "noop", "depends_on": ["a"], "when": "${data.x} ==",
       "trigger": "sometimes", "retry": {"max_attempts": 0}},
      {"id": "a", "type": "noop"}
    ]
  })"),
                       422);
  ErrorList errors = Errors(body);
  std::set<std::string> paths;
  for (const auto& [path, message] : errors) paths.insert(path);
  EXPECT_EQ(paths,
            (std::set<std::string>{"/colour", "/tasks/0/priority", "/tasks/1/type",
                                   "/tasks/2/params/url", "/tasks/3/when", "/tasks/3/trigger",
                                   "/tasks/3/retry/max_attempts", "/tasks/4/id"}))
      << body.dump(2);
  EXPECT_TRUE(errors.count({"/colour", "unknown field"})) << body.dump(2);
  EXPECT_TRUE(errors.count({"/tasks/0/priority", "unknown field"})) << body.dump(2);
  EXPECT_TRUE(errors.count({"/tasks/1/type", "unknown task type 'no_such_type'"})) << body.dump(2);
  EXPECT_TRUE(errors.count({"/tasks/3/trigger", "must be all_succeeded, all_done or any_failed"}))
      << body.dump(2);
  // The error object points at the first problem, like every error answer.
  EXPECT_EQ(body["error"]["path"], body["errors"][0]["path"]);
}

TEST_F(Templates, ACycleIsReportedWithItsPath) {
  json body = Validate(json::parse(R"({
    "name": "cycle",
    "tasks": [
      {"id": "a", "type": "noop", "depends_on": ["c"]},
      {"id": "b", "type": "noop", "depends_on": ["a"]},
      {"id": "c", "type": "noop", "depends_on": ["b"]}
    ]
  })"),
                       422);
  ErrorList errors = Errors(body);
  ASSERT_EQ(errors.size(), 1u) << body.dump(2);
  EXPECT_EQ(errors.begin()->first, "/tasks/0/depends_on") << body.dump(2);
  EXPECT_NE(errors.begin()->second.find("dependency cycle: a -> c -> b -> a"), std::string::npos)
      << body.dump(2);
}

TEST_F(Templates, EveryBadExpressionIsListedWithItsPath) {
  json body = Validate(json::parse(R"({
    "name": "bad_expressions",
    "tasks": [
      {"id": "a", "type": "noop", "params": {"outputs": {"x": "${data.x"}}},
      {"id": "b", "type": "noop", "params": {"outputs": {"y": "${nowhere.y}"}}},
      {"id": "c", "type": "noop", "params": {"outputs": {"z": "${tasks.b.outputs.y}"}}}
    ],
    "outputs": {"w": "${tasks.zz.outputs.w}"}
  })"),
                       422);
  ErrorList errors = Errors(body);
  std::set<std::string> paths;
  for (const auto& [path, message] : errors) paths.insert(path);
  EXPECT_EQ(paths, (std::set<std::string>{"/tasks/0/params/outputs/x", "/tasks/1/params/outputs/y",
                                          "/tasks/2/params/outputs/z", "/outputs/w"}))
      << body.dump(2);
  EXPECT_TRUE(errors.count({"/tasks/2/params/outputs/z",
                            "expression ${tasks.b.outputs.y} names task 'b', which is not "
                            "upstream of 'c' (add it to depends_on)"}))
      << body.dump(2);
  EXPECT_TRUE(
      errors.count({"/outputs/w", "expression ${tasks.zz.outputs.w} names unknown task 'zz'"}))
      << body.dump(2);
}

TEST_F(Templates, BadBodiesAreRefused) {
  ExpectError(stack_->PostRaw("/v1/templates/validate", "{not json", "application/json"), 400,
              "invalid_json");
  ExpectError(stack_->PostRaw("/v1/templates/validate", "", "application/json"), 400,
              "invalid_json");
  ExpectError(stack_->PostRaw("/v1/templates/validate",
                              R"({"name":"x","tasks":[{"id":"a","type":"noop"}]})", "text/plain"),
              415, "unsupported_media_type");
  // Valid JSON that is not a template object is a template error at the root.
  ErrorList errors = Errors(Validate(json::array({1, 2}), 422));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors.begin()->first, "/");
  errors = Errors(Validate(json::object(), 422));
  EXPECT_TRUE(errors.count({"/name", "is required"}));
  EXPECT_TRUE(errors.count({"/tasks", "is required"}));
}

TEST_F(Templates, EveryTemplateInTheRepositoryIsValid) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(WF_SOURCE_DIR "/templates")) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    const std::string stem = entry.path().stem().string();
    SCOPED_TRACE(entry.path().filename().string());
    json doc = json::parse(ReadFile(entry.path().string()));
    json body = Validate(doc, 200);
    EXPECT_EQ(body["valid"], true) << body.dump(2);
    EXPECT_EQ(body["name"], stem);
    EXPECT_EQ(body["dag"]["nodes"].size(), doc["tasks"].size());
    // The API serves the same file; the hash pins the same version.
    auto served = stack_->Get("/v1/templates/" + stem);
    ASSERT_TRUE(served);
    ASSERT_EQ(served->status, 200) << served->body;
    EXPECT_EQ(json::parse(served->body)["hash"], body["hash"]);
  }
  EXPECT_GT(files, 0);
}

}  // namespace
}  // namespace wf::test
