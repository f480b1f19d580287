// Cancelling a request whose task waits on an outside job: the module is invoked once more,
// cancelled, and stops the job there before the task is recorded cancelled.
#include <atomic>
#include <mutex>

#include "harness.h"

namespace wf::test {
namespace {

class JobServer {
 public:
  JobServer() {
    http_.server().Post("/jobs", [this](const httplib::Request&, httplib::Response& res) {
      created_++;
      res.status = 201;
      res.set_content(R"({"id": "job-7"})", "application/json");
    });
    http_.server().Get("/jobs/job-7", [this](const httplib::Request&, httplib::Response& res) {
      polls_++;
      res.set_content(json{{"state", cancelled_ ? "cancelled" : "running"}}.dump(),
                      "application/json");
    });
    http_.server().Post("/jobs/job-7/cancel",
                        [this](const httplib::Request&, httplib::Response& res) {
                          cancelled_++;
                          res.status = 202;
                          res.set_content("{}", "application/json");
                        });
    http_.Start();
  }
  std::string url() const { return http_.url(); }
  std::atomic<int> created_{0}, polls_{0}, cancelled_{0};

 private:
  TestHttpServer http_;
};

json JobTemplate(const std::string& base, bool with_cancel) {
  json params = {{"create", {{"url", base + "/jobs"}, {"job_id", "/id"}}},
                 {"poll",
                  {{"url", base + "/jobs/{job_id}"},
                   {"status", "/state"},
                   {"success", {"done"}},
                   {"failure", {"failed"}},
                   {"interval_ms", 100}}}};
  if (with_cancel) params["cancel"] = {{"url", base + "/jobs/{job_id}/cancel"}};
  return {{"name", with_cancel ? "job_cancellable" : "job_plain"},
          {"tasks", {{{"id", "job"}, {"type", "rest_job"}, {"params", params}}}}};
}

TEST(CancelOutsideWork, TheModuleStopsItsJobBeforeTheTaskIsCancelled) {
  JobServer jobs;
  Stack stack;
  stack.AddTemplate("job_cancellable", JobTemplate(jobs.url(), true));
  stack.StartApi();
  stack.StartEngine("engine-1");
  const std::string id = stack.Submit("job_cancellable", json::object());
  ASSERT_TRUE(WaitFor([&] { return jobs.polls_ >= 2; }, std::chrono::seconds(20)));
  auto c = stack.Post("/v1/requests/" + id + "/cancel", json::object());
  ASSERT_TRUE(c);
  ASSERT_EQ(c->status, 202) << c->body;
  json done = stack.WaitDone(id, std::chrono::seconds(30));
  EXPECT_EQ(done["status"], "cancelled") << done.dump();
  json task = TaskById(done, "job");
  EXPECT_EQ(task["status"], "cancelled") << task.dump();
  EXPECT_EQ(jobs.created_, 1);
  EXPECT_EQ(jobs.cancelled_, 1);
  EXPECT_NE(stack.Logs().find("job job-7 cancelled (HTTP 202)"), std::string::npos) << stack.Logs();
}

TEST(CancelOutsideWork, AModuleWithoutACancelCallSaysItLeftTheJobRunning) {
  JobServer jobs;
  Stack stack;
  stack.AddTemplate("job_plain", JobTemplate(jobs.url(), false));
  stack.StartApi();
  stack.StartEngine("engine-1");
  const std::string id = stack.Submit("job_plain", json::object());
  ASSERT_TRUE(WaitFor([&] { return jobs.polls_ >= 1; }, std::chrono::seconds(20)));
  ASSERT_TRUE(stack.Post("/v1/requests/" + id + "/cancel", json::object()));
  json done = stack.WaitDone(id, std::chrono::seconds(30));
  EXPECT_EQ(done["status"], "cancelled");
  EXPECT_EQ(TaskById(done, "job")["status"], "cancelled");
  EXPECT_EQ(jobs.cancelled_, 0);
  EXPECT_NE(stack.Logs().find("job-7 is left running (no cancel call)"), std::string::npos)
      << stack.Logs();
}

}  // namespace
}  // namespace wf::test
