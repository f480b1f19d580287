// Tests for docs/template.schema.json, the JSON Schema editors use to check templates: it
// accepts every template in the repository and rejects the mistakes the parser rejects.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "wf/core/inputs_schema.h"
#include "wf/core/template.h"

namespace wf {
namespace {

namespace fs = std::filesystem;

json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// A template using every field of the language.
json FullTemplate() {
  return json::parse(R"({
    "name": "full_example",
    "version": "2",
    "description": "uses every field",
    "inputs": {"type": "object", "properties": {"hosts": {"type": "array"}}},
    "timeout_ms": 600000,
    "tasks": [
      {"id": "prepare", "type": "set", "description": "first",
       "params": {"n": 1}, "timeout_ms": 5000,
       "retry": {"max_attempts": 3, "initial_delay_ms": 0, "multiplier": 1.5,
                 "max_delay_ms": 10000, "jitter": 0.1}},
      {"id": "per_host", "type": "http", "depends_on": ["prepare"],
       "for_each": "${data.hosts}", "concurrency": 4,
       "params": {"url": "http://${item}/ping"}},
      {"id": "literal_list", "type": "noop", "for_each": [1, 2, 3]},
      {"id": "maybe", "type": "noop", "depends_on": ["prepare"], "when": true,
       "on_failure": "continue"},
      {"id": "conditional", "type": "noop", "when": "${data.hosts}"},
      {"id": "cleanup", "type": "workflow", "depends_on": ["per_host", "maybe"],
       "trigger": "all_done", "on_failure": "fail_workflow"},
      {"id": "alert", "type": "rest_job", "depends_on": ["per_host"], "trigger": "any_failed"},
      {"id": "_x-1", "type": "a_plugin_type", "trigger": "all_succeeded"}
    ],
    "outputs": ["${tasks.prepare.outputs.n}", 1, null]
  })");
}

class TemplateSchema : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path path = fs::path(WF_SOURCE_DIR) / "docs" / "template.schema.json";
    try {
      schema_doc_ = new json(ReadJson(path));
    } catch (const std::exception& e) {
      load_error_ = path.string() + ": " + e.what();
      return;
    }
    auto compiled = InputsSchema::Compile(*schema_doc_, "");
    if (!compiled.ok()) {
      load_error_ = compiled.status().ToString();
      return;
    }
    schema_ = new std::shared_ptr<const InputsSchema>(*compiled);
  }
  static void TearDownTestSuite() {
    delete schema_;
    schema_ = nullptr;
    delete schema_doc_;
    schema_doc_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(load_error_.empty()) << load_error_; }

  static Status Check(const json& doc) { return (*schema_)->Validate(doc); }

  // Asserts the schema rejects `FullTemplate()` after `edit`.
  static void ExpectRejected(const std::string& what, const std::function<void(json&)>& edit) {
    json doc = FullTemplate();
    edit(doc);
    EXPECT_FALSE(Check(doc).ok()) << what << ": accepted " << doc.dump();
  }

  static json* schema_doc_;
  static std::shared_ptr<const InputsSchema>* schema_;
  static std::string load_error_;
};

json* TemplateSchema::schema_doc_ = nullptr;
std::shared_ptr<const InputsSchema>* TemplateSchema::schema_ = nullptr;
std::string TemplateSchema::load_error_;

TEST_F(TemplateSchema, IsADraft07SchemaWithADescriptionForEveryField) {
  EXPECT_EQ((*schema_doc_)["$schema"], "http://json-schema.org/draft-07/schema#");
  const json& top = (*schema_doc_)["properties"];
  const json& task = (*schema_doc_)["definitions"]["task"]["properties"];
  const json& retry = task["retry"]["properties"];
  for (const json* props : {&top, &task, &retry}) {
    ASSERT_TRUE(props->is_object());
    for (auto it = props->begin(); it != props->end(); ++it) {
      EXPECT_TRUE(it->contains("description") && (*it)["description"].is_string())
          << it.key() << " has no description";
    }
  }
  auto keys = [](const json& props) {
    std::set<std::string> out;
    for (auto it = props.begin(); it != props.end(); ++it) out.insert(it.key());
    return out;
  };
  EXPECT_EQ(keys(top), (std::set<std::string>{"name", "version", "description", "inputs", "tasks",
                                              "outputs", "timeout_ms"}));
  EXPECT_EQ(keys(task), (std::set<std::string>{"id", "type", "description", "params", "depends_on",
                                               "when", "trigger", "on_failure", "retry",
                                               "timeout_ms", "for_each", "concurrency"}));
  EXPECT_EQ(keys(retry), (std::set<std::string>{"max_attempts", "initial_delay_ms", "multiplier",
                                                "max_delay_ms", "jitter"}));
  EXPECT_EQ((*schema_doc_)["required"], json({"name", "tasks"}));
  EXPECT_EQ((*schema_doc_)["definitions"]["task"]["required"], json({"id", "type"}));
}

TEST_F(TemplateSchema, AcceptsEveryTemplateInTheRepository) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(WF_SOURCE_DIR) / "templates")) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    Status s = Check(ReadJson(entry.path()));
    EXPECT_TRUE(s.ok()) << entry.path().filename() << ": " << s.ToString();
  }
  EXPECT_GT(files, 0);
}

TEST_F(TemplateSchema, AcceptsEveryField) {
  Status s = Check(FullTemplate());
  EXPECT_TRUE(s.ok()) << s.ToString();
  // The smallest template.
  s = Check(json::parse(R"({"name": "m", "tasks": [{"id": "a", "type": "noop"}]})"));
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(TemplateSchema, RejectsUnknownFields) {
  ExpectRejected("unknown top-level field", [](json& d) { d["colour"] = "red"; });
  ExpectRejected("unknown task field", [](json& d) { d["tasks"][0]["colour"] = "red"; });
  ExpectRejected("unknown retry field", [](json& d) { d["tasks"][0]["retry"]["tries"] = 2; });
  ExpectRejected("$schema key", [](json& d) { d["$schema"] = "./template.schema.json"; });
}

TEST_F(TemplateSchema, RejectsValuesOutsideTheirEnumOrRange) {
  ExpectRejected("bad trigger", [](json& d) { d["tasks"][5]["trigger"] = "sometimes"; });
  ExpectRejected("bad on_failure", [](json& d) { d["tasks"][3]["on_failure"] = "ignore"; });
  ExpectRejected("max_attempts 0", [](json& d) { d["tasks"][0]["retry"]["max_attempts"] = 0; });
  ExpectRejected("max_attempts 101", [](json& d) { d["tasks"][0]["retry"]["max_attempts"] = 101; });
  ExpectRejected("max_attempts 1.5", [](json& d) { d["tasks"][0]["retry"]["max_attempts"] = 1.5; });
  ExpectRejected("multiplier 0.5", [](json& d) { d["tasks"][0]["retry"]["multiplier"] = 0.5; });
  ExpectRejected("jitter 2", [](json& d) { d["tasks"][0]["retry"]["jitter"] = 2; });
  ExpectRejected("negative delay",
                 [](json& d) { d["tasks"][0]["retry"]["initial_delay_ms"] = -1; });
  ExpectRejected("task timeout 0", [](json& d) { d["tasks"][0]["timeout_ms"] = 0; });
  ExpectRejected("request timeout 0", [](json& d) { d["timeout_ms"] = 0; });
  ExpectRejected("concurrency 0", [](json& d) { d["tasks"][1]["concurrency"] = 0; });
  ExpectRejected("concurrency without for_each", [](json& d) { d["tasks"][0]["concurrency"] = 2; });
}

TEST_F(TemplateSchema, RejectsMissingOrMistypedFields) {
  ExpectRejected("missing id", [](json& d) { d["tasks"][0].erase("id"); });
  ExpectRejected("missing type", [](json& d) { d["tasks"][0].erase("type"); });
  ExpectRejected("missing name", [](json& d) { d.erase("name"); });
  ExpectRejected("missing tasks", [](json& d) { d.erase("tasks"); });
  ExpectRejected("no tasks", [](json& d) { d["tasks"] = json::array(); });
  ExpectRejected("task not an object", [](json& d) { d["tasks"][0] = "prepare"; });
  ExpectRejected("bad name", [](json& d) { d["name"] = "9lives"; });
  ExpectRejected("bad id", [](json& d) { d["tasks"][0]["id"] = "has space"; });
  ExpectRejected("empty type", [](json& d) { d["tasks"][0]["type"] = ""; });
  ExpectRejected("params not an object", [](json& d) { d["tasks"][0]["params"] = json::array(); });
  ExpectRejected("inputs not an object", [](json& d) { d["inputs"] = "string"; });
  ExpectRejected("depends_on twice", [](json& d) { d["tasks"][1]["depends_on"] = {"a", "a"}; });
  ExpectRejected("depends_on not ids", [](json& d) { d["tasks"][1]["depends_on"] = {1}; });
  ExpectRejected("when a number", [](json& d) { d["tasks"][3]["when"] = 1; });
  ExpectRejected("for_each an object", [](json& d) { d["tasks"][1]["for_each"] = json::object(); });
  ExpectRejected("version a number", [](json& d) { d["version"] = 2; });
}

// Every field the schema describes is a field the parser knows (values aside).
TEST_F(TemplateSchema, DescribesOnlyFieldsTheParserKnows) {
  auto unknown_field = [](const json& doc, const std::string& path) {
    std::vector<TemplateError> errors;
    (void)ParseTemplate(doc, nullptr, &errors);
    for (const auto& e : errors) {
      if (e.path == path && e.message == "unknown field") return true;
    }
    return false;
  };
  const json base = json::parse(R"({"name": "m", "tasks": [{"id": "a", "type": "noop"}]})");
  {
    json doc = base;
    doc["colour"] = "red";
    ASSERT_TRUE(unknown_field(doc, "/colour")) << "the parser no longer rejects unknown fields";
  }
  for (auto it = (*schema_doc_)["properties"].begin(); it != (*schema_doc_)["properties"].end();
       ++it) {
    json doc = base;
    doc[it.key()] = nullptr;
    EXPECT_FALSE(unknown_field(doc, "/" + it.key())) << it.key();
  }
  const json& task = (*schema_doc_)["definitions"]["task"]["properties"];
  for (auto it = task.begin(); it != task.end(); ++it) {
    json doc = base;
    doc["tasks"][0][it.key()] = nullptr;
    EXPECT_FALSE(unknown_field(doc, "/tasks/0/" + it.key())) << it.key();
  }
  for (auto it = task["retry"]["properties"].begin(); it != task["retry"]["properties"].end();
       ++it) {
    json doc = base;
    doc["tasks"][0]["retry"] = {{it.key(), nullptr}};
    EXPECT_FALSE(unknown_field(doc, "/tasks/0/retry/" + it.key())) << it.key();
  }
}

}  // namespace
}  // namespace wf
