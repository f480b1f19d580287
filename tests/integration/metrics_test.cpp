// Engine histograms in GET /metrics: task durations and attempts by task type and claim
// latency, as each live engine reports them through its presence record.
#include "harness.h"

namespace wf::test {
namespace {

// The value of one sample line `name{labels} value`, or -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  at += series.size() + 2;
  return std::stod(text.substr(at, text.find('\n', at) - at));
}

TEST(EngineMetricsTest, TaskDurationsAttemptsAndClaimLatencyByType) {
  Stack stack;
  TestHttpServer http;
  int calls = 0;
  http.server().Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    res.status = ++calls < 2 ? 503 : 200;
    res.set_content("{}", "application/json");
  });
  http.Start();
  stack.AddTemplate("measured", {{"name", "measured"},
                                 {"tasks",
                                  {{{"id", "a"}, {"type", "noop"}},
                                   {{"id", "b"}, {"type", "noop"}, {"depends_on", {"a"}}},
                                   {{"id", "call"},
                                    {"type", "http"},
                                    {"depends_on", {"b"}},
                                    {"retry", {{"max_attempts", 3}, {"initial_delay_ms", 10}}},
                                    {"params", {{"url", http.url() + "/flaky"}}}}}}});
  stack.StartApi();
  stack.StartEngine("engine-m");
  const std::string id = stack.Submit("measured", json::object());
  json done = stack.WaitDone(id, std::chrono::seconds(30));
  ASSERT_EQ(done["status"], "succeeded") << done.dump();

  std::string text;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = stack.Get("/metrics");
        if (!r || r->status != 200) return false;
        text = "\n" + r->body;
        return Sample(text, "wf_task_attempts_count{engine=\"engine-m\",type=\"http\"}") == 1;
      },
      std::chrono::seconds(20)))
      << text;
  EXPECT_NE(text.find("# TYPE wf_task_duration_seconds histogram"), std::string::npos);
  // Two noop invocations, two http invocations (one failed and retried).
  EXPECT_EQ(Sample(text, "wf_task_duration_seconds_count{engine=\"engine-m\",type=\"noop\"}"), 2);
  EXPECT_EQ(Sample(text, "wf_task_duration_seconds_count{engine=\"engine-m\",type=\"http\"}"), 2);
  EXPECT_EQ(
      Sample(text,
             "wf_task_duration_seconds_bucket{engine=\"engine-m\",type=\"http\",le=\"+Inf\"}"),
      2);
  EXPECT_GT(Sample(text, "wf_task_duration_seconds_sum{engine=\"engine-m\",type=\"http\"}"), 0);
  // Attempts until done: 1 for each noop, 2 for the http call.
  EXPECT_EQ(Sample(text, "wf_task_attempts_sum{engine=\"engine-m\",type=\"noop\"}"), 2);
  EXPECT_EQ(Sample(text, "wf_task_attempts_sum{engine=\"engine-m\",type=\"http\"}"), 2);
  EXPECT_EQ(Sample(text, "wf_task_attempts_bucket{engine=\"engine-m\",type=\"http\",le=\"1\"}"), 0);
  EXPECT_EQ(Sample(text, "wf_task_attempts_bucket{engine=\"engine-m\",type=\"http\",le=\"2\"}"), 1);
  EXPECT_EQ(Sample(text, "wf_claim_latency_seconds_count{engine=\"engine-m\"}"), 1);
}

}  // namespace
}  // namespace wf::test
