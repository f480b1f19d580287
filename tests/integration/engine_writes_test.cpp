// How the engine claims and records work: a backlog is taken batch after batch without
// waiting for a notification or the poll interval in between; a task that runs for a
// while shows `running`, one that ends at once has its start recorded with its result.
#include <condition_variable>
#include <mutex>

#include "harness.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

TEST(Claim, AFullBatchIsFollowedByAnotherClaimAtOnce) {
  Stack stack;
  stack.AddTemplate("one_noop",
                    {{"name", "one_noop"}, {"tasks", {{{"id", "a"}, {"type", "noop"}}}}});
  // Batches of 2 and a poll interval far longer than the test: only claiming again after
  // a full batch can take the whole backlog, since no insert notifies the engine once it
  // runs.
  stack.SetEnv("WF_ENGINE_CLAIM_BATCH", "2");
  stack.SetEnv("WF_ENGINE_POLL_MS", "600000");
  stack.StartApi();
  std::vector<std::string> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(stack.Submit("one_noop", json::object()));
  stack.StartEngine("engine-1");
  for (const auto& id : ids) {
    json done = stack.WaitDone(id, 60s);
    EXPECT_EQ(done["status"], "succeeded") << done.dump(2);
  }
  EXPECT_EQ(stack.Sql("SELECT count(*) FROM requests WHERE claims = 1"), "9");
}

TEST(Claim, ASubmissionWakesAnIdleEngineWithoutWaitingForThePoll) {
  Stack stack;
  stack.AddTemplate("one_noop",
                    {{"name", "one_noop"}, {"tasks", {{{"id", "a"}, {"type", "noop"}}}}});
  // Only the notification sent after the insert commits can wake the engine in time.
  stack.SetEnv("WF_ENGINE_POLL_MS", "600000");
  stack.StartApi();
  stack.StartEngine("engine-1");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = stack.Get("/v1/services");
        return r && r->status == 200 && r->body.find("\"engine\"") != std::string::npos;
      },
      30s));
  for (int i = 0; i < 3; ++i) {
    std::string id = stack.Submit("one_noop", json::object());
    json done = stack.WaitDone(id, 60s);
    EXPECT_EQ(done["status"], "succeeded") << done.dump(2);
  }
}

TEST(TaskRows, ALongTaskShowsRunningAQuickOneIsRecordedWithItsResult) {
  // /slow answers once the test lets it go.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  TestHttpServer remote;
  remote.server().Post("/slow", [&](const httplib::Request&, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
    res.set_content(R"({"ok": true})", "application/json");
  });
  remote.Start();
  Stack stack;
  stack.AddTemplate("quick_then_slow",
                    {{"name", "quick_then_slow"},
                     {"tasks",
                      {{{"id", "quick"}, {"type", "noop"}},
                       {{"id", "slow"},
                        {"type", "http"},
                        {"depends_on", {"quick"}},
                        {"params", {{"method", "POST"}, {"url", remote.url() + "/slow"}}}}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  std::string id = stack.Submit("quick_then_slow", json::object());
  json doc;
  bool running = WaitFor(
      [&] {
        auto r = stack.Get("/v1/requests/" + id);
        if (!r || r->status != 200) return false;
        doc = json::parse(r->body);
        for (const auto& t : doc["tasks"]) {
          if (t["id"] == "slow" && t["status"] == "running") return true;
        }
        return false;
      },
      30s);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(running) << doc.dump(2) << stack.Logs();
  json slow = TaskById(doc, "slow");
  EXPECT_TRUE(slow["started_at"].is_string()) << slow.dump();
  EXPECT_TRUE(slow["finished_at"].is_null()) << slow.dump();
  json done = stack.WaitDone(id, 30s);
  ASSERT_EQ(done["status"], "succeeded") << done.dump(2);
  for (const char* task : {"quick", "slow"}) {
    json t = TaskById(done, task);
    EXPECT_EQ(t["status"], "succeeded") << t.dump();
    EXPECT_TRUE(t["started_at"].is_string()) << t.dump();
    EXPECT_TRUE(t["finished_at"].is_string()) << t.dump();
    EXPECT_LE(t["started_at"].get<std::string>(), t["finished_at"].get<std::string>());
  }
  // The dependent started after its dependency's result was committed.
  EXPECT_LE(TaskById(done, "quick")["finished_at"].get<std::string>(),
            TaskById(done, "slow")["started_at"].get<std::string>());
}

}  // namespace
}  // namespace wf::test
