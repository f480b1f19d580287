// Tests for TemplateCatalog: a folder of <name>.json templates, re-read when files change.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "wf/task.h"
#include "wf/template_catalog.h"

namespace wf {
namespace {

namespace fs = std::filesystem;

class NoopTask : public Task {
 public:
  TaskOutcome Run(TaskContext&) const override { return TaskOutcome::Succeeded(); }
};

constexpr int kNoAutoRefreshMs = 3600 * 1000;

// "t<i>". (Appending to a string rather than `"t" + std::to_string(i)`, which GCC 12
// misreads as an overlapping copy: GCC bug 105329.)
std::string TaskId(int i) {
  std::string id = "t";
  id += std::to_string(i);
  return id;
}

// A valid template body named `name`, with `tasks` noop tasks in a chain.
std::string ValidTemplate(const std::string& name, int tasks = 1,
                          const std::string& description = "") {
  json doc = {{"name", name}, {"description", description}, {"tasks", json::array()}};
  for (int i = 0; i < tasks; ++i) {
    json t = {{"id", TaskId(i)}, {"type", "noop"}};
    if (i > 0) t["depends_on"] = {TaskId(i - 1)};
    doc["tasks"].push_back(t);
  }
  return doc.dump(2);
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.Register("noop", std::make_unique<NoopTask>());
    static std::atomic<int> counter{0};
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("wf-catalog-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter++) + "-" + std::to_string(rd()));
    ASSERT_TRUE(fs::create_directories(dir_));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Write(const std::string& file, const std::string& text) {
    std::ofstream out(dir_ / file, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    ASSERT_TRUE(out.good()) << file;
  }

  std::unique_ptr<TemplateCatalog> Open(int recheck_ms = kNoAutoRefreshMs) {
    return std::make_unique<TemplateCatalog>(dir_.string(), registry_.Checker(), recheck_ms);
  }

  static std::vector<std::string> Names(TemplateCatalog& catalog) {
    std::vector<std::string> out;
    for (const auto& t : catalog.All()) out.push_back(t->name);
    std::sort(out.begin(), out.end());
    return out;
  }

  TaskRegistry registry_;
  fs::path dir_;
};

TEST_F(CatalogTest, LoadsValidFiles) {
  Write("alpha.json", ValidTemplate("alpha", 2));
  Write("beta.json", ValidTemplate("beta", 3));
  Write("README.md", "not a template");
  Write("notes.txt", "{}");
  fs::create_directory(dir_ / "nested.json");
  auto catalog = Open();
  EXPECT_EQ(catalog->dir(), dir_.string());
  EXPECT_EQ(Names(*catalog), (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_TRUE(catalog->Errors().empty());
  auto alpha = catalog->Find("alpha");
  ASSERT_NE(alpha, nullptr);
  EXPECT_EQ(alpha->tasks.size(), 2u);
  EXPECT_EQ(alpha->hash, ContentHash(json::parse(ValidTemplate("alpha", 2))));
  auto beta = catalog->Find("beta");
  ASSERT_NE(beta, nullptr);
  EXPECT_EQ(beta->tasks.size(), 3u);
  EXPECT_EQ(catalog->Find("gamma"), nullptr);
  EXPECT_EQ(catalog->Find("README"), nullptr);
}

TEST_F(CatalogTest, ReportsInvalidFileWithoutAffectingOthers) {
  Write("good.json", ValidTemplate("good"));
  Write(
      "bad.json",
      R"({"name": "bad", "tasks": [{"id": "a", "type": "noop"}, {"id": "b", "type": "mystery"}]})");
  auto catalog = Open();
  EXPECT_EQ(Names(*catalog), std::vector<std::string>{"good"});
  EXPECT_NE(catalog->Find("good"), nullptr);
  EXPECT_EQ(catalog->Find("bad"), nullptr);
  auto errors = catalog->Errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "bad.json");
  EXPECT_EQ(errors[0].path, "/tasks/1/type");
  EXPECT_NE(errors[0].message.find("unknown task type 'mystery'"), std::string::npos)
      << errors[0].message;
}

TEST_F(CatalogTest, ReportsEveryErrorOfAFile) {
  Write("multi.json", R"({"name": "multi", "extra": true,
      "tasks": [{"id": "a", "type": "noop"}, {"id": "a", "type": "noop"}]})");
  auto catalog = Open();
  auto errors = catalog->Errors();
  ASSERT_EQ(errors.size(), 2u);
  std::vector<std::string> paths = {errors[0].path, errors[1].path};
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(paths, (std::vector<std::string>{"/extra", "/tasks/1/id"}));
  for (const auto& e : errors) EXPECT_EQ(e.file, "multi.json");
}

TEST_F(CatalogTest, ReportsFileThatIsNotJson) {
  Write("good.json", ValidTemplate("good"));
  Write("broken.json", "{\"name\": \"broken\", ");
  auto catalog = Open();
  EXPECT_EQ(Names(*catalog), std::vector<std::string>{"good"});
  auto errors = catalog->Errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "broken.json");
  EXPECT_EQ(errors[0].path, "");
  EXPECT_NE(errors[0].message.find("not valid JSON"), std::string::npos) << errors[0].message;
}

TEST_F(CatalogTest, FileNameMustMatchTemplateName) {
  Write("other.json", ValidTemplate("alpha"));
  auto catalog = Open();
  EXPECT_TRUE(catalog->All().empty());
  EXPECT_EQ(catalog->Find("alpha"), nullptr);
  EXPECT_EQ(catalog->Find("other"), nullptr);
  auto errors = catalog->Errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "other.json");
  EXPECT_EQ(errors[0].path, "/name");
  EXPECT_NE(errors[0].message.find("'alpha'"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("does not match the file name"), std::string::npos)
      << errors[0].message;
}

TEST_F(CatalogTest, PicksUpNewFileOnRefresh) {
  Write("alpha.json", ValidTemplate("alpha"));
  auto catalog = Open();
  EXPECT_EQ(Names(*catalog), std::vector<std::string>{"alpha"});
  Write("beta.json", ValidTemplate("beta"));
  // Not re-scanned before the recheck interval.
  EXPECT_EQ(catalog->Find("beta"), nullptr);
  catalog->Refresh();
  ASSERT_NE(catalog->Find("beta"), nullptr);
  EXPECT_EQ(Names(*catalog), (std::vector<std::string>{"alpha", "beta"}));
}

TEST_F(CatalogTest, PicksUpEditedFileOnRefresh) {
  Write("alpha.json", ValidTemplate("alpha", 1));
  auto catalog = Open();
  auto before = catalog->Find("alpha");
  ASSERT_NE(before, nullptr);
  Write("alpha.json", ValidTemplate("alpha", 3, "edited"));
  catalog->Refresh();
  auto after = catalog->Find("alpha");
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->tasks.size(), 3u);
  EXPECT_EQ(after->description, "edited");
  EXPECT_NE(after->hash, before->hash);
  // The old version is still intact for whoever holds it.
  EXPECT_EQ(before->tasks.size(), 1u);
}

TEST_F(CatalogTest, UnchangedFileIsNotReparsed) {
  Write("alpha.json", ValidTemplate("alpha"));
  auto catalog = Open();
  auto first = catalog->Find("alpha");
  catalog->Refresh();
  EXPECT_EQ(catalog->Find("alpha"), first);  // the same shared instance
}

TEST_F(CatalogTest, FileThatBecomesInvalidKeepsLastValidVersion) {
  Write("alpha.json", ValidTemplate("alpha", 2));
  auto catalog = Open();
  auto valid = catalog->Find("alpha");
  ASSERT_NE(valid, nullptr);

  Write("alpha.json",
        R"({"name": "alpha", "tasks": [{"id": "a", "type": "noop", "depends_on": ["zz"]}]})");
  catalog->Refresh();
  auto still = catalog->Find("alpha");
  ASSERT_NE(still, nullptr);
  EXPECT_EQ(still->hash, valid->hash);
  EXPECT_EQ(still->tasks.size(), 2u);
  auto errors = catalog->Errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "alpha.json");
  EXPECT_EQ(errors[0].path, "/tasks/0/depends_on/0");
  EXPECT_NE(errors[0].message.find("unknown task 'zz'"), std::string::npos) << errors[0].message;

  // Broken JSON also keeps the last valid version.
  Write("alpha.json", "{ nope");
  catalog->Refresh();
  ASSERT_NE(catalog->Find("alpha"), nullptr);
  EXPECT_EQ(catalog->Find("alpha")->hash, valid->hash);
  errors = catalog->Errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("not valid JSON"), std::string::npos);

  // Fixing the file serves the fix and clears the error.
  Write("alpha.json", ValidTemplate("alpha", 4, "fixed"));
  catalog->Refresh();
  auto fixed = catalog->Find("alpha");
  ASSERT_NE(fixed, nullptr);
  EXPECT_EQ(fixed->tasks.size(), 4u);
  EXPECT_TRUE(catalog->Errors().empty());
}

TEST_F(CatalogTest, DeletedFileDisappears) {
  Write("alpha.json", ValidTemplate("alpha"));
  Write("beta.json", ValidTemplate("beta"));
  Write("bad.json", "[]");
  auto catalog = Open();
  EXPECT_EQ(Names(*catalog), (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(catalog->Errors().size(), 1u);
  fs::remove(dir_ / "alpha.json");
  fs::remove(dir_ / "bad.json");
  catalog->Refresh();
  EXPECT_EQ(catalog->Find("alpha"), nullptr);
  EXPECT_EQ(Names(*catalog), std::vector<std::string>{"beta"});
  EXPECT_TRUE(catalog->Errors().empty());
}

TEST_F(CatalogTest, ShortRecheckIntervalRefreshesOnLookup) {
  auto catalog = Open(0);
  EXPECT_TRUE(catalog->All().empty());
  Write("alpha.json", ValidTemplate("alpha"));
  EXPECT_NE(catalog->Find("alpha"), nullptr);
  fs::remove(dir_ / "alpha.json");
  EXPECT_EQ(catalog->Find("alpha"), nullptr);
}

TEST_F(CatalogTest, MissingFolderIsEmpty) {
  auto catalog = std::make_unique<TemplateCatalog>((dir_ / "missing").string(), registry_.Checker(),
                                                   kNoAutoRefreshMs);
  EXPECT_TRUE(catalog->All().empty());
  EXPECT_EQ(catalog->Find("alpha"), nullptr);
  // Once the folder appears its templates are loaded.
  fs::create_directory(dir_ / "missing");
  {
    std::ofstream out(dir_ / "missing" / "alpha.json");
    out << ValidTemplate("alpha");
  }
  catalog->Refresh();
  EXPECT_NE(catalog->Find("alpha"), nullptr);
}

}  // namespace
}  // namespace wf
