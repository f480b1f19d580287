// Task-module plugins in the real services: the example plugin's `greet` type validates in
// wf-api and runs in wf-engine; a crashing plugin next to it is reported and skipped.
#include <filesystem>

#include "harness.h"

namespace wf::test {
namespace {

namespace fs = std::filesystem;

TEST(PluginsTest, ExamplePluginRunsEndToEndAndABadOneIsSkipped) {
  const std::string dir = MakeTempDir("wf-plugins");
  fs::copy_file(WF_GREET_PLUGIN, dir + "/greet.so");
  fs::copy_file(WF_CRASHING_PLUGIN, dir + "/crashes.so");
  Stack stack;
  stack.SetEnv("WF_PLUGINS_DIR", dir);
  stack.AddTemplate("greeting",
                    {{"name", "greeting"},
                     {"inputs",
                      {{"type", "object"},
                       {"properties", {{"who", {{"type", "string"}}}}},
                       {"required", {"who"}}}},
                     {"tasks",
                      {{{"id", "hi"},
                        {"type", "greet"},
                        {"params", {{"name", "${data.who}"}, {"greeting", "Hi"}}}},
                       {{"id", "after"},
                        {"type", "noop"},
                        {"depends_on", {"hi"}},
                        {"params", {{"outputs", {{"said", "${tasks.hi.outputs.message}"}}}}}}}},
                     {"outputs", {{"said", "${tasks.after.outputs.said}"}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");

  // The API knows the plugin's type: the template loaded, and validation checks its params.
  auto t = stack.Get("/v1/templates/greeting");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->status, 200) << t->body << stack.Logs();
  auto v = stack.Post(
      "/v1/templates/validate",
      {{"name", "x"}, {"tasks", {{{"id", "a"}, {"type", "greet"}, {"params", json::object()}}}}});
  ASSERT_TRUE(v);
  EXPECT_NE(v->body.find("/tasks/0/params/name"), std::string::npos) << v->body;

  const std::string id = stack.Submit("greeting", {{"who", "ops"}});
  json done = stack.WaitDone(id, std::chrono::seconds(30));
  ASSERT_EQ(done["status"], "succeeded") << done.dump() << stack.Logs();
  EXPECT_EQ(done["outputs"]["said"], "Hi, ops!");
  EXPECT_EQ(TaskById(done, "hi")["outputs"]["invocation"], 1);

  const std::string logs = stack.Logs();
  EXPECT_NE(logs.find("plugin greet-example 1.0.0"), std::string::npos) << logs;
  EXPECT_NE(logs.find("crashes.so skipped: loading it crashed"), std::string::npos) << logs;
}

}  // namespace
}  // namespace wf::test
