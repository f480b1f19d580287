// The API's answers to good and bad input, against the real server and database.
#include "harness.h"

namespace wf::test {
namespace {

using namespace std::chrono_literals;

class Api : public ApiSuite {
 protected:
  static std::string RequestCount() { return stack_->Sql("SELECT count(*) FROM requests"); }
};

TEST_F(Api, HealthAndReadiness) {
  auto r = stack_->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = stack_->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(Api, SubmitAnswers202AndStoresThePendingRequest) {
  auto r = stack_->Post("/v1/requests", {{"template", "hello"}, {"data", {{"name", "x"}}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  json body = json::parse(r->body);
  EXPECT_EQ(body["status"], "pending");
  std::string id = body["request_id"];
  EXPECT_EQ(r->get_header_value("Location"), "/v1/requests/" + id);
  auto g = stack_->Get("/v1/requests/" + id);
  ASSERT_EQ(g->status, 200);
  json req = json::parse(g->body);
  EXPECT_EQ(req["status"], "pending");  // no engine runs in this suite
  EXPECT_EQ(req["trace_id"], body["trace_id"]);
  ASSERT_EQ(req["tasks"].size(), 4u);
  for (const auto& t : req["tasks"]) EXPECT_EQ(t["status"], "pending");
  EXPECT_EQ(req["tasks"][1]["depends_on"], json({"greet"}));
}

TEST_F(Api, RejectedSubmissionsWriteNothing) {
  const std::string before = RequestCount();
  ExpectError(stack_->PostRaw("/v1/requests", "{not json", "application/json"), 400,
              "invalid_json");
  ExpectError(stack_->PostRaw("/v1/requests", "[1,2]", "application/json"), 400, "invalid_request",
              "/");
  ExpectError(stack_->PostRaw("/v1/requests", R"({"template":"hello"})", "text/plain"), 415,
              "unsupported_media_type");
  ExpectError(stack_->Post("/v1/requests", {{"data", json::object()}}), 400, "invalid_request",
              "/template");
  ExpectError(stack_->Post("/v1/requests", {{"template", 7}}), 400, "invalid_request", "/template");
  ExpectError(stack_->Post("/v1/requests", {{"template", "hello"}, {"data", {1, 2}}}), 400,
              "invalid_request", "/data");
  ExpectError(stack_->Post("/v1/requests", {{"template", "hello"}, {"colour", "red"}}), 400,
              "invalid_request", "/colour");
  ExpectError(stack_->Post("/v1/requests", {{"template", "hello"}, {"trace_id", "not-a-uuid"}}),
              400, "invalid_request", "/trace_id");
  ExpectError(stack_->Post("/v1/requests", {{"template", "no_such_template"}}), 404,
              "template_not_found", "/template");
  // Data is checked against the template's inputs schema, with the path into the body.
  ExpectError(stack_->Post("/v1/requests", {{"template", "hello"}, {"data", json::object()}}), 422,
              "invalid_data", "/data");
  ExpectError(stack_->Post("/v1/requests", {{"template", "hello"}, {"data", {{"name", 5}}}}), 422,
              "invalid_data", "/data/name");
  ExpectError(
      stack_->Post("/v1/requests",
                   {{"template", "http_example"},
                    {"data", {{"base_url", "http://x"}, {"hostname", "h"}, {"cpu", "four"}}}}),
      422, "invalid_data", "/data/cpu");
  // Hostile shapes: nesting that would exhaust a recursive parser, invalid UTF-8.
  ExpectError(stack_->PostRaw("/v1/requests", std::string(100000, '[') + std::string(100000, ']'),
                              "application/json"),
              400, "too_deep");
  ExpectError(
      stack_->PostRaw("/v1/requests", "{\"template\": \"hel\xff\xfelo\"}", "application/json"), 400,
      "invalid_json");
  ExpectError(stack_->PostRaw("/v1/requests", std::string(2 << 20, ' '), "application/json"), 413,
              "payload_too_large");
  EXPECT_EQ(RequestCount(), before);
  // The server still answers.
  EXPECT_EQ(stack_->Get("/healthz")->status, 200);
}

TEST_F(Api, WrongMethodsOnKnownRoutesAre405) {
  httplib::Client c("127.0.0.1",
                    std::stoi(stack_->api_url().substr(stack_->api_url().rfind(':') + 1)));
  c.set_bearer_token_auth(stack_->token("admin").c_str());
  auto r = c.Delete("/v1/requests");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  r = c.Put("/v1/templates/hello", "{}", "application/json");
  EXPECT_EQ(r->status, 405);
  r = c.Delete("/v1/nowhere");
  EXPECT_EQ(r->status, 404);
}

TEST_F(Api, ReadErrors) {
  ExpectError(stack_->Get("/v1/requests/not-a-uuid"), 400, "invalid_id");
  ExpectError(stack_->Get("/v1/requests/6f1c1b9e-3a52-4c9b-9d2e-5f4a3b2c1d0e"), 404, "not_found");
  ExpectError(stack_->Get("/v1/requests?limit=0"), 400, "invalid_query", "limit");
  ExpectError(stack_->Get("/v1/requests?limit=abc"), 400, "invalid_query", "limit");
  ExpectError(stack_->Get("/v1/requests?status=weird"), 400, "invalid_query", "status");
  ExpectError(stack_->Get("/v1/requests?trace_id=x"), 400, "invalid_query", "trace_id");
  ExpectError(stack_->Get("/v1/nothing-here"), 404, "not_found");
}

TEST_F(Api, TemplatesAreListedWithTheirDag) {
  auto r = stack_->Get("/v1/templates");
  ASSERT_EQ(r->status, 200);
  std::set<std::string> names;
  const json parsed1 = json::parse(r->body);
  for (const auto& t : parsed1["templates"]) names.insert(t["name"].get<std::string>());
  EXPECT_TRUE(names.count("hello")) << r->body;
  EXPECT_TRUE(names.count("http_example"));
  r = stack_->Get("/v1/templates/hello");
  ASSERT_EQ(r->status, 200);
  json t = json::parse(r->body);
  EXPECT_EQ(t["dag"]["nodes"].size(), 4u);
  EXPECT_EQ(t["dag"]["edges"].size(), 4u);
  ExpectError(stack_->Get("/v1/templates/nope"), 404, "not_found");
}

TEST_F(Api, ATemplateDroppedInTheFolderIsPickedUpWithoutRestart) {
  stack_->AddTemplate("late", {{"name", "late"}, {"tasks", {{{"id", "only"}, {"type", "noop"}}}}});
  bool seen = WaitFor(
      [&] {
        auto r = stack_->Post("/v1/requests", {{"template", "late"}});
        return r && r->status == 202;
      },
      10s);
  EXPECT_TRUE(seen);
  // A broken file is reported, with its path, and does not take the others down.
  WriteFile(stack_->templates_dir() + "/broken.json",
            R"({"name": "broken", "tasks": [{"id": "a", "type": "noop", "depends_on": ["zz"]}]})");
  bool reported = WaitFor(
      [&] {
        auto r = stack_->Get("/v1/templates");
        const json parsed2 = json::parse(r->body);
        for (const auto& e : parsed2["errors"]) {
          if (e["file"] == "broken.json" && e["path"] == "/tasks/0/depends_on/0") return true;
        }
        return false;
      },
      10s);
  EXPECT_TRUE(reported);
  auto r = stack_->Post("/v1/requests", {{"template", "hello"}, {"data", {{"name", "y"}}}});
  EXPECT_EQ(r->status, 202);
}

TEST_F(Api, ListingPagesWithACursorStableUnderNewInserts) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(stack_->Submit("hello", {{"name", "page" + std::to_string(i)}}));
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    std::string url =
        "/v1/requests?template=hello&limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor);
    json body = json::parse(stack_->Get(url)->body);
    for (const auto& r : body["requests"]) seen.push_back(r["request_id"]);
    if (page == 0) stack_->Submit("hello", {{"name", "late"}});  // newer: not in later pages
    if (body["next_cursor"].is_null()) break;
    cursor = body["next_cursor"];
  }
  // Newest first, each once; the ones submitted before this test come after ours.
  ASSERT_GE(seen.size(), ids.size());
  std::vector<std::string> ours(seen.begin(), seen.begin() + 5);
  EXPECT_EQ(ours, std::vector<std::string>(ids.rbegin(), ids.rend()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size())
      << "a request was listed twice";
  ExpectError(stack_->Get("/v1/requests?cursor=zz"), 400, "invalid_query", "cursor");
  ExpectError(stack_->Get("/v1/requests?created_after=yesterday"), 400, "invalid_query",
              "created_after");
  ExpectError(stack_->Get("/v1/requests?parent=nope"), 400, "invalid_query", "parent");
  json none = json::parse(stack_->Get("/v1/requests?created_after=2999-01-01T00:00:00Z")->body);
  EXPECT_EQ(none["requests"].size(), 0u);
}

TEST_F(Api, MetricsInPrometheusText) {
  stack_->Submit("hello", {{"name", "m"}});
  stack_->Get("/v1/requests/6f1c1b9e-3a52-4c9b-9d2e-5f4a3b2c1d0e");
  auto r = stack_->Get("/metrics");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/plain", 0), 0u);
  const std::string& text = r->body;
  // Latency by route template (the id is not a label value), answers by code.
  EXPECT_NE(text.find("wf_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/"
                      "requests\",le=\"+Inf\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          "wf_http_responses_total{method=\"GET\",route=\"/v1/requests/{id}\",code=\"404\"} "),
      std::string::npos)
      << text;
  EXPECT_EQ(text.find("6f1c1b9e"), std::string::npos);
  // Queue gauges from the database: this suite runs no engine, so requests wait.
  EXPECT_NE(text.find("wf_requests{template=\"hello\",status=\"pending\"}"), std::string::npos);
  EXPECT_EQ(text.find("wf_queue_depth 0\n"), std::string::npos);
  EXPECT_NE(text.find("wf_queue_oldest_age_seconds "), std::string::npos);
  EXPECT_NE(text.find("wf_metrics_sources_up{source=\"db\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace wf::test
