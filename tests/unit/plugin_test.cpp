// Loading task-module plugins: the example plugin loads and runs; every kind of bad plugin
// is reported with its reason and skipped, and never takes the loading process down.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>

#include "builtin.h"
#include "task_fixture.h"
#include "wf/plugin.h"

namespace wf {
namespace {

namespace fs = std::filesystem;

class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterBuiltinTasks(&registry_);
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("wf-plugin-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
            std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Add(const std::string& source, const std::string& as) { fs::copy_file(source, dir_ / as); }
  static std::string Bad(int kind) {
    return std::string(WF_BAD_PLUGIN_DIR) + "/wf_bad_plugin_" + std::to_string(kind) + ".so";
  }
  // Loads the directory; expects one report and returns it.
  PluginReport LoadOne(int timeout_ms = 10000) {
    auto reports = LoadPlugins(dir_.string(), &registry_, timeout_ms);
    EXPECT_EQ(reports.size(), 1u);
    return reports.empty() ? PluginReport{} : reports[0];
  }

  TaskRegistry registry_;
  fs::path dir_;
};

TEST_F(PluginTest, TheExamplePluginLoadsValidatesAndRuns) {
  Add(WF_GREET_PLUGIN, "wf_greet.so");
  PluginReport r = LoadOne();
  ASSERT_TRUE(r.loaded) << r.error;
  EXPECT_EQ(r.name, "greet-example");
  EXPECT_EQ(r.version, "1.0.0");
  EXPECT_EQ(r.types, std::vector<std::string>{"greet"});
  const Task* greet = registry_.Find("greet");
  ASSERT_NE(greet, nullptr);
  EXPECT_NE(registry_.Find("noop"), nullptr);  // the built-ins are still there

  // Validate() runs the plugin's checks, naming the param's path.
  Status bad = greet->Validate(json{{"greeting", "Hi"}}, "/tasks/0/params");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.ToString().find("/tasks/0/params/name"), std::string::npos) << bad.ToString();
  EXPECT_TRUE(greet->Validate(json{{"name", "${data.who}"}}, "/tasks/0/params").ok());

  test::TaskFixture fx;
  TaskOutcome o = fx.Invoke(*greet, {{"name", "ops"}, {"greeting", "Hi"}});
  ASSERT_EQ(o.kind, TaskOutcome::Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs["message"], "Hi, ops!");
  EXPECT_EQ(o.outputs["invocation"], 1);
  // Its state survives between invocations, as the engine's does across restarts.
  o = fx.Invoke(*greet, {{"name", "ops"}});
  EXPECT_EQ(o.outputs["message"], "Hello, ops!");
  EXPECT_EQ(o.outputs["invocation"], 2);
  EXPECT_NE(fx.Log().find("greet: Hi, ops!"), std::string::npos) << fx.Log();
}

struct BadCase {
  int kind;
  const char* error;  // a part of the reported reason
};

class BadPluginTest : public PluginTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadPluginTest, IsReportedAndSkipped) {
  const BadCase c = GetParam();
  Add(Bad(c.kind), "bad.so");
  const auto types_before = registry_.Types();
  PluginReport r = LoadOne(/*timeout_ms=*/1500);
  EXPECT_FALSE(r.loaded);
  EXPECT_NE(r.error.find(c.error), std::string::npos) << r.error;
  EXPECT_EQ(registry_.Types(), types_before);
  EXPECT_EQ(registry_.Find("bad_plugin_task"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, BadPluginTest,
    ::testing::Values(BadCase{1, "plugin ABI"}, BadCase{2, "no wf_plugin_info symbol"},
                      BadCase{3, "threw: no licence for this plugin"},
                      BadCase{4, "crashed (signal 11"}, BadCase{5, "'noop' is registered already"},
                      BadCase{6, "registered no task type"}, BadCase{7, "did not finish within"}),
    [](const auto& info) { return "Kind" + std::to_string(info.param.kind); });

TEST_F(PluginTest, AFileThatIsNotALibraryIsReported) {
  std::ofstream(dir_ / "junk.so") << "not an ELF file";
  PluginReport r = LoadOne();
  EXPECT_FALSE(r.loaded);
  EXPECT_NE(r.error.find("cannot load"), std::string::npos) << r.error;
}

TEST_F(PluginTest, GoodPluginsLoadNextToBadOnesInFileNameOrder) {
  Add(Bad(4), "a_crashes.so");
  Add(WF_GREET_PLUGIN, "b_greet.so");
  Add(WF_GREET_PLUGIN, "c_greet_again.so");  // the same types again: refused
  std::ofstream(dir_ / "notes.txt") << "ignored";
  auto reports = LoadPlugins(dir_.string(), &registry_);
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_FALSE(reports[0].loaded);
  EXPECT_TRUE(reports[1].loaded) << reports[1].error;
  EXPECT_FALSE(reports[2].loaded);
  EXPECT_NE(reports[2].error.find("'greet' is registered already"), std::string::npos)
      << reports[2].error;
  EXPECT_NE(registry_.Find("greet"), nullptr);
}

TEST_F(PluginTest, NoDirectoryConfiguredLoadsNothingAndAMissingOneIsReported) {
  EXPECT_TRUE(LoadPlugins("", &registry_).empty());
  auto reports = LoadPlugins((dir_ / "missing").string(), &registry_);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].loaded);
  EXPECT_NE(reports[0].error.find("cannot read the plugins directory"), std::string::npos);
}

}  // namespace
}  // namespace wf
