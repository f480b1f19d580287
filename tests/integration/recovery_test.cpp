// Crash recovery, fencing, quarantine, graceful shutdown, and dependency restarts, with
// the real binaries killed, paused and restarted.
#include <signal.h>

#include <condition_variable>
#include <mutex>

#include "harness.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

// An external job API: POST /jobs starts a job that runs `duration`; GET /jobs/{id} tells
// its status. Like a real idempotent API, a POST that repeats an Idempotency-Key gets the
// job that key already started. It counts POSTs per key and jobs started.
class JobServer {
 public:
  explicit JobServer(std::chrono::milliseconds duration) : duration_(duration) {
    http_.server().Post("/jobs", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      std::string key = req.get_header_value("Idempotency-Key");
      creates_[key]++;
      std::string& id = by_key_[key];
      if (id.empty()) {
        id = "job-" + std::to_string(++next_);
        started_[id] = std::chrono::steady_clock::now();
      }
      res.status = 201;
      res.set_content(json({{"id", id}}).dump(), "application/json");
    });
    http_.server().Get(R"(/jobs/([\w-]+))", [this](const httplib::Request& req,
                                                   httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = started_.find(req.matches[1]);
      if (it == started_.end()) {
        res.status = 404;
        return;
      }
      bool done = std::chrono::steady_clock::now() - it->second >= duration_;
      polls_++;
      res.set_content(
          json({{"status", done ? "done" : "running"}, {"result", "built " + it->first}}).dump(),
          "application/json");
    });
    http_.Start();
  }
  std::string url() const { return http_.url(); }
  std::map<std::string, int> creates() {
    std::lock_guard<std::mutex> lock(mu_);
    return creates_;
  }
  int jobs() {
    std::lock_guard<std::mutex> lock(mu_);
    return next_;
  }

  // A template: prepare -> job (rest_job on this server) -> finish.
  json Template(const std::string& name) const {
    return {{"name", name},
            {"tasks",
             {{{"id", "prepare"}, {"type", "noop"}},
              {{"id", "job"},
               {"type", "rest_job"},
               {"depends_on", {"prepare"}},
               {"retry", {{"max_attempts", 6}, {"initial_delay_ms", 300}, {"jitter", 0.1}}},
               {"params",
                {{"create",
                  {{"url", url() + "/jobs"}, {"body", {{"n", "${data.n}"}}}, {"job_id", "/id"}}},
                 {"poll",
                  {{"url", url() + "/jobs/{job_id}"},
                   {"status", "/status"},
                   {"success", {"done"}},
                   {"failure", {"failed"}},
                   {"interval_ms", 200}}},
                 {"outputs", {{"result", "/result"}}}}}},
              {{"id", "finish"},
               {"type", "noop"},
               {"depends_on", {"job"}},
               {"params", {{"outputs", {{"result", "${tasks.job.outputs.result}"}}}}}}}}};
  }

 private:
  TestHttpServer http_;
  std::chrono::milliseconds duration_;
  std::mutex mu_;
  std::map<std::string, int> creates_;
  std::map<std::string, std::string> by_key_;
  std::map<std::string, std::chrono::steady_clock::time_point> started_;
  int next_ = 0;
  int polls_ = 0;
};

// GET /slow blocks its first caller until Release(); later calls answer at once. Each
// answer says which call it was.
class SlowServer {
 public:
  SlowServer() {
    http_.server().Get("/slow", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock<std::mutex> lock(mu_);
      int call = ++calls_;
      cv_.notify_all();
      if (call == 1) cv_.wait(lock, [&] { return released_; });
      res.set_content(json({{"call", call}}).dump(), "application/json");
    });
    http_.Start();
  }
  ~SlowServer() { Release(); }
  std::string url() const { return http_.url(); }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool WaitCalls(int n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return calls_ >= n; });
  }
  json Template(const std::string& name) const {
    return {{"name", name},
            {"tasks",
             {{{"id", "slow"},
               {"type", "http"},
               {"params",
                {{"url", url() + "/slow"},
                 {"timeout_ms", 120000},
                 {"outputs", {{"call", "/call"}}}}}}}},
            {"outputs", {{"call", "${tasks.slow.outputs.call}"}}}};
  }

 private:
  TestHttpServer http_;
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  bool released_ = false;
};

TEST(Recovery, KilledEngineMidDagIsTakenOverWithoutRepeatingSideEffects) {
  JobServer jobs(1500ms);
  Stack stack;
  stack.AddTemplate("long", jobs.Template("long"));
  stack.SetEnv("WF_ENGINE_LEASE_MS", "2000");
  stack.StartApi();
  Process& first = stack.StartEngine("engine-a");
  const int kRequests = 100;
  std::vector<std::string> ids;
  for (int i = 0; i < kRequests; ++i) ids.push_back(stack.Submit("long", {{"n", i}}));
  // Let the first engine start jobs and save their ids, then kill it without warning.
  ASSERT_TRUE(WaitFor([&] { return jobs.jobs() >= 30; }, 30s)) << stack.Logs();
  ASSERT_EQ(stack.Sql("SELECT count(*) FROM requests WHERE status = 'succeeded'"), "0")
      << "the jobs must still be running when the engine dies";
  first.Signal(SIGKILL);
  first.Wait(10s);
  stack.StartEngine("engine-b");
  for (const auto& id : ids) {
    json r = stack.WaitDone(id, 90s);
    ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
    EXPECT_EQ(r["tasks"][2]["outputs"]["result"].get<std::string>().rfind("built job-", 0), 0u);
  }
  // One job per request. The saved job ids were reused after the crash: a POST is
  // repeated only when the kill fell between the remote call and saving its answer, and
  // then it carried the same Idempotency-Key, so no job started twice.
  auto creates = jobs.creates();
  EXPECT_EQ(creates.size(), static_cast<size_t>(kRequests));
  EXPECT_EQ(jobs.jobs(), kRequests);
  int repeated = 0;
  for (const auto& id : ids) repeated += creates[id + "/job"] - 1;
  EXPECT_LE(repeated, 8) << "more repeated POSTs than task invocations that were running";
  std::cout << "repeated create calls after the kill: " << repeated << " of " << kRequests << "\n";
  // The kill did land in the middle: some requests were taken over by the second engine.
  EXPECT_NE(stack.Sql("SELECT count(*) FROM requests WHERE claims = 2"), "0");
  // The saved job id is visible on the request.
  auto g = stack.Get("/v1/requests/" + ids[0]);
  json r = json::parse(g->body);
  EXPECT_TRUE(r["tasks"][1]["state"]["job_id"].is_string()) << r.dump(2);
}

TEST(Recovery, APausedEngineThatLostItsLeaseCannotOverwriteTheNewOwner) {
  SlowServer slow;
  Stack stack;
  stack.AddTemplate("slowone", slow.Template("slowone"));
  stack.SetEnv("WF_ENGINE_LEASE_MS", "1500");
  stack.StartApi();
  Process& paused = stack.StartEngine("engine-a");
  std::string id = stack.Submit("slowone", json::object());
  ASSERT_TRUE(slow.WaitCalls(1, 30s)) << stack.Logs();  // engine-a is inside the call
  paused.Signal(SIGSTOP);
  stack.StartEngine("engine-b");
  json r = stack.WaitDone(id, 30s);  // engine-b takes over once the lease expires
  ASSERT_EQ(r["status"], "succeeded") << r.dump(2);
  EXPECT_EQ(r["outputs"]["call"], 2);
  // engine-a wakes up, gets its late answer and tries to record it.
  slow.Release();
  paused.Signal(SIGCONT);
  ASSERT_TRUE(WaitFor([&] { return paused.Log().find("lease lost") != std::string::npos; }, 30s))
      << paused.Log();
  r = json::parse(stack.Get("/v1/requests/" + id)->body);
  EXPECT_EQ(r["status"], "succeeded");
  EXPECT_EQ(r["outputs"]["call"], 2);
  EXPECT_EQ(r["tasks"][0]["outputs"]["call"], 2) << "the stale engine overwrote the task";
  EXPECT_EQ(stack.Sql("SELECT epoch FROM requests WHERE id = '" + id + "'"), "2");
}

TEST(Recovery, ARequestThatKeepsKillingEnginesIsQuarantined) {
  SlowServer slow;
  Stack stack;
  stack.AddTemplate("slowone", slow.Template("slowone"));
  stack.SetEnv("WF_ENGINE_LEASE_MS", "1500");
  stack.SetEnv("WF_ENGINE_MAX_CLAIMS", "1");
  stack.StartApi();
  Process& first = stack.StartEngine("engine-a");
  std::string id = stack.Submit("slowone", json::object());
  ASSERT_TRUE(slow.WaitCalls(1, 30s));
  first.Signal(SIGKILL);
  first.Wait(10s);
  stack.StartEngine("engine-b");
  json r = stack.WaitDone(id, 30s);
  EXPECT_EQ(r["status"], "failed");
  EXPECT_NE(r["error"].get<std::string>().find("quarantined"), std::string::npos) << r["error"];
}

TEST(Recovery, SigtermDuringWorkExitsCleanlyAndReleasesLeases) {
  JobServer jobs(800ms);
  Stack stack;
  stack.AddTemplate("long", jobs.Template("long"));
  stack.SetEnv("WF_ENGINE_SHUTDOWN_GRACE_MS", "10000");
  stack.StartApi();
  Process& first = stack.StartEngine("engine-a");
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(stack.Submit("long", {{"n", i}}));
  ASSERT_TRUE(WaitFor([&] { return jobs.jobs() >= 5; }, 30s));
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(15s), 0) << first.Log();
  // Nothing is left owned by the stopped engine: the next one can start at once.
  EXPECT_EQ(stack.Sql("SELECT count(*) FROM requests WHERE owner IS NOT NULL"), "0");
  stack.StartEngine("engine-b");
  for (const auto& id : ids) EXPECT_EQ(stack.WaitDone(id, 60s)["status"], "succeeded");
  EXPECT_EQ(jobs.jobs(), static_cast<int>(jobs.creates().size()));
}

TEST(Recovery, PostgresRestartLosesNoRequest) {
  PrivateServer pg(PrivateServer::Kind::kPostgres);
  JobServer jobs(300ms);
  Stack stack(pg.url());
  stack.AddTemplate("long", jobs.Template("long"));
  stack.StartApi();
  stack.StartEngine("engine-a");
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(stack.Submit("long", {{"n", i}}));
  ASSERT_TRUE(WaitFor([&] { return jobs.jobs() >= 5; }, 30s));
  pg.Stop();
  // While the database is down the API says so instead of failing obscurely.
  auto r = stack.Get("/v1/requests/" + ids[0]);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  auto submit = stack.Post("/v1/requests", {{"template", "long"}, {"data", {{"n", 99}}}});
  ASSERT_TRUE(submit);
  EXPECT_EQ(submit->status, 503);
  std::this_thread::sleep_for(2s);
  pg.Start();
  for (const auto& id : ids) EXPECT_EQ(stack.WaitDone(id, 90s)["status"], "succeeded") << id;
  EXPECT_EQ(jobs.jobs(), static_cast<int>(jobs.creates().size()));
}

TEST(Recovery, RedisRestartLeavesEveryRequestFinished) {
  PrivateServer redis(PrivateServer::Kind::kRedis);
  JobServer jobs(500ms);
  Stack stack("", redis.url());
  stack.AddTemplate("long", jobs.Template("long"));
  stack.StartApi();
  stack.StartEngine("engine-a");
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(stack.Submit("long", {{"n", i}}));
  ASSERT_TRUE(WaitFor([&] { return jobs.jobs() >= 5; }, 30s));
  redis.Stop();
  std::this_thread::sleep_for(1500ms);
  redis.Start();
  // A task that could not reach its variables failed retryably instead of starting its
  // job blind, and its retry went on once Redis was back: every request succeeds, and no
  // job was started twice.
  for (const auto& id : ids) {
    json r = stack.WaitDone(id, 90s);
    EXPECT_EQ(r["status"], "succeeded") << r.dump(2);
  }
  EXPECT_EQ(jobs.jobs(), static_cast<int>(jobs.creates().size()));
}

}  // namespace
}  // namespace wf::test
