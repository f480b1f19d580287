// GET /v1/traces/{trace_id} and the log routes' answers that need no log service.
#include "harness.h"

namespace wf::test {
namespace {

TEST(TracesTest, ListsEveryRequestOfTheTraceWithChildAndRerunLinks) {
  Stack stack;
  stack.AddTemplate("leaf", {{"name", "leaf"}, {"tasks", {{{"id", "x"}, {"type", "noop"}}}}});
  stack.AddTemplate("parent", {{"name", "parent"},
                               {"tasks",
                                {{{"id", "child"},
                                  {"type", "workflow"},
                                  {"params", {{"template", "leaf"}, {"poll_ms", 100}}}}}}});
  stack.StartApi();
  stack.StartEngine("engine-1");
  const std::string first = stack.Submit("parent", json::object());
  json done = stack.WaitDone(first, std::chrono::seconds(30));
  ASSERT_EQ(done["status"], "succeeded") << done.dump();
  const std::string trace = done["trace_id"];
  auto rr = stack.Post("/v1/requests/" + first + "/rerun", json::object());
  ASSERT_TRUE(rr);
  ASSERT_EQ(rr->status, 202) << rr->body;
  const std::string second = json::parse(rr->body)["request_id"];
  ASSERT_EQ(stack.WaitDone(second, std::chrono::seconds(30))["status"], "succeeded");

  auto r = stack.Get("/v1/traces/" + trace);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json t = json::parse(r->body);
  EXPECT_EQ(t["trace_id"], trace);
  EXPECT_EQ(t["truncated"], false);
  // Two parents (original and re-run), each with its child: four requests, oldest first.
  ASSERT_EQ(t["requests"].size(), 4u) << t.dump(2);
  std::map<std::string, json> by_id;
  for (const auto& q : t["requests"]) by_id[q["request_id"]] = q;
  ASSERT_TRUE(by_id.count(first) && by_id.count(second)) << t.dump(2);
  EXPECT_EQ(t["requests"][0]["request_id"], first);
  EXPECT_EQ(by_id[first]["reruns"], json::array({second}));
  EXPECT_EQ(by_id[second]["rerun_of"], first);
  ASSERT_EQ(by_id[first]["children"].size(), 1u);
  ASSERT_EQ(by_id[second]["children"].size(), 1u);
  const std::string child = by_id[first]["children"][0];
  EXPECT_EQ(by_id[child]["template"], "leaf");
  EXPECT_EQ(by_id[child]["parent"]["request_id"], first) << by_id[child].dump();
  EXPECT_NE(by_id[second]["children"][0], child);
  for (const auto& q : t["requests"]) EXPECT_EQ(q["trace_id"], trace);
}

TEST(TracesTest, BadAndUnknownIds) {
  Stack stack;
  stack.StartApi();
  ExpectError(stack.Get("/v1/traces/not-a-uuid"), 400, "invalid_id", "/trace_id");
  ExpectError(stack.Get("/v1/traces/6f1c3a52-0000-4000-8000-000000000000"), 404, "not_found");
  ExpectError(stack.Get("/v1/traces/not-a-uuid/logs"), 400, "invalid_id", "/trace_id");
  ExpectError(stack.Get("/v1/requests/not-a-uuid/logs"), 400, "invalid_id", "/id");
  ExpectError(stack.Get("/v1/requests/6f1c3a52-0000-4000-8000-000000000000/logs"), 404,
              "not_found");
  ExpectError(stack.Get("/v1/traces/6f1c3a52-0000-4000-8000-000000000000/logs"), 404, "not_found");
}

TEST(TracesTest, LogsWithoutALogServiceSaySo) {
  Stack stack;
  stack.StartApi();
  const std::string id = stack.Submit("hello", {{"name", "x"}});
  ExpectError(stack.Get("/v1/requests/" + id + "/logs"), 503, "logs_unavailable");
  // A log service that does not answer.
  Stack other;
  other.SetEnv("WF_API_LOGS_URL", "http://127.0.0.1:" + std::to_string(FreePort()));
  other.StartApi();
  const std::string id2 = other.Submit("hello", {{"name", "x"}});
  ExpectError(other.Get("/v1/requests/" + id2 + "/logs"), 503, "logs_unavailable");
}

}  // namespace
}  // namespace wf::test
