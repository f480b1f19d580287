// API authentication and authorisation against the real wf-api: 401 without a valid token,
// 403 for a role that may not, open health endpoints, the submitter's token name on the
// request, tokens never in the log, the tokens file re-read when it changes, and the
// explicit opt-out with its warning.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "wf/core/crypto.h"

namespace wf::test {
namespace {

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override { stack_.StartApi(); }
  Stack stack_;
};

TEST_F(AuthTest, NoTokenOrUnknownTokenIs401WithChallenge) {
  auto r = stack_.GetAs("", "/v1/requests");
  ExpectError(r, 401, "unauthorized");
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer realm=\"wf\"");
  ExpectError(stack_.GetAs("not-a-token", "/v1/requests"), 401, "unauthorized");
  // A token must come as a bearer token, not as another scheme.
  httplib::Client c(stack_.api_url());
  c.set_basic_auth("it-admin", stack_.token("admin"));
  ExpectError(c.Get("/v1/requests"), 401, "unauthorized");
  ExpectError(stack_.PostAs("", "/v1/requests", {{"template", "hello"}, {"data", {{"name", "x"}}}}),
              401, "unauthorized");
  EXPECT_EQ(stack_.Sql("SELECT count(*) FROM requests"), "0");
}

TEST_F(AuthTest, HealthIsOpenMetricsIsNot) {
  auto h = stack_.GetAs("", "/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto m = stack_.GetAs("", "/metrics");
  ExpectError(m, 401, "unauthorized");
  auto mr = stack_.GetAs(stack_.token("reader"), "/metrics");
  ASSERT_TRUE(mr);
  EXPECT_EQ(mr->status, 200);
  // Refused calls are counted like the others.
  EXPECT_NE(
      mr->body.find("wf_http_responses_total{method=\"GET\",route=\"/metrics\",code=\"401\"} 1"),
      std::string::npos)
      << mr->body;
}

TEST_F(AuthTest, ReaderMayOnlyRead) {
  const std::string reader = stack_.token("reader");
  auto list = stack_.GetAs(reader, "/v1/requests");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200) << list->body;
  auto t = stack_.GetAs(reader, "/v1/templates");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, 200);
  auto submit =
      stack_.PostAs(reader, "/v1/requests", {{"template", "hello"}, {"data", {{"name", "x"}}}});
  ExpectError(submit, 403, "forbidden");
  json body = json::parse(submit->body);
  EXPECT_NE(body["error"]["message"].get<std::string>().find("it-reader"), std::string::npos);
  EXPECT_NE(body["error"]["message"].get<std::string>().find("operator"), std::string::npos);
  ExpectError(stack_.GetAs(reader, "/v1/services"), 403, "forbidden");
  EXPECT_EQ(stack_.Sql("SELECT count(*) FROM requests"), "0");
}

TEST_F(AuthTest, OperatorSubmitsAndCancelsButDoesNotAdminister) {
  const std::string op = stack_.token("operator");
  auto submit =
      stack_.PostAs(op, "/v1/requests", {{"template", "hello"}, {"data", {{"name", "x"}}}});
  ASSERT_TRUE(submit);
  ASSERT_EQ(submit->status, 202) << submit->body;
  const std::string id = json::parse(submit->body)["request_id"];
  auto cancel = stack_.PostAs(op, "/v1/requests/" + id + "/cancel", json::object());
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->status, 200) << cancel->body;
  ExpectError(stack_.GetAs(op, "/v1/services"), 403, "forbidden");
  ExpectError(
      stack_.PostAs(op, "/v1/templates/validate", {{"name", "t"}, {"tasks", json::array()}}), 403,
      "forbidden");

  // The request records which token submitted it, and shows it to readers.
  auto got = stack_.GetAs(stack_.token("reader"), "/v1/requests/" + id);
  ASSERT_TRUE(got);
  EXPECT_EQ(json::parse(got->body)["submitted_by"], "it-operator") << got->body;
  EXPECT_EQ(stack_.Sql("SELECT submitted_by FROM requests WHERE id = '" + id + "'"), "it-operator");
}

TEST_F(AuthTest, AdminMayDoEverything) {
  const std::string admin = stack_.token("admin");
  auto s = stack_.GetAs(admin, "/v1/services");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 200) << s->body;
  auto v = stack_.PostAs(admin, "/v1/templates/validate",
                         {{"name", "t"}, {"tasks", {{{"id", "a"}, {"type", "noop"}}}}});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, 200) << v->body;
}

TEST_F(AuthTest, TokensNeverReachTheLog) {
  for (const char* role : {"admin", "operator", "reader"}) {
    stack_.GetAs(stack_.token(role), "/v1/requests");
    stack_.PostAs(stack_.token(role), "/v1/requests",
                  {{"template", "hello"}, {"data", {{"name", "x"}}}});
  }
  stack_.GetAs("wrong-token-value-123", "/v1/requests");
  const std::string log = stack_.Logs();
  for (const char* role : {"admin", "operator", "reader"}) {
    EXPECT_EQ(log.find(stack_.token(role)), std::string::npos) << role;
  }
  EXPECT_EQ(log.find("wrong-token-value-123"), std::string::npos);
}

TEST_F(AuthTest, TokensFileIsReReadWhenItChanges) {
  const std::string fresh = RandomHex(24);
  ExpectError(stack_.GetAs(fresh, "/v1/requests"), 401, "unauthorized");
  const std::string path = stack_.env("WF_API_TOKENS_FILE");
  std::string text = ReadFile(path);
  text += "  - {name: late-reader, role: reader, sha256: " + Sha256Hex(fresh) + "}\n";
  // A different size for sure, so even a coarse mtime sees the change.
  WriteFile(path, text);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = stack_.GetAs(fresh, "/v1/requests");
        return r && r->status == 200;
      },
      std::chrono::seconds(10)));
  // A broken file keeps the tokens that were loaded.
  WriteFile(path, "tokens: [ {name: x, role: nobody, sha256: 00} ]\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  auto r = stack_.GetAs(fresh, "/v1/requests");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(WaitFor([&] { return stack_.Logs().find("tokens[0].role") != std::string::npos; },
                      std::chrono::seconds(5)))
      << stack_.Logs();
}

TEST(AuthStartTest, BadTokensFileStopsTheApiWithTheEntryNamed) {
  Stack stack;
  WriteFile(stack.env("WF_API_TOKENS_FILE"),
            "tokens:\n  - {name: ok, role: reader, sha256: " + Sha256Hex("x") +
                "}\n  - {name: bad, role: reader, sha256: xyz}\n");
  Process& api = stack.StartApiNoWait();
  EXPECT_EQ(api.Wait(std::chrono::seconds(20)), 1) << api.Log();
  EXPECT_NE(api.Log().find("tokens[1].sha256"), std::string::npos) << api.Log();
}

TEST(AuthStartTest, DisabledAuthWarnsAndLetsEveryoneIn) {
  Stack stack;
  stack.DisableAuth();
  stack.StartApi();
  auto r = stack.PostAs("", "/v1/requests", {{"template", "hello"}, {"data", {{"name", "x"}}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string id = json::parse(r->body)["request_id"];
  auto got = stack.GetAs("", "/v1/requests/" + id);
  ASSERT_TRUE(got);
  EXPECT_FALSE(json::parse(got->body).contains("submitted_by"));
  EXPECT_NE(stack.Logs().find("api.auth is disabled"), std::string::npos) << stack.Logs();
}

TEST(ApiTimeoutTest, SlowBodyIsCutOffWhileOthersAreServed) {
  Stack stack;
  stack.SetEnv("WF_API_READ_TIMEOUT_MS", "500");
  stack.StartApi();
  const int port = std::stoi(stack.api_url().substr(stack.api_url().rfind(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string head =
      "POST /v1/requests HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + stack.token("admin") +
      "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"template\":";
  ASSERT_EQ(send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));

  // While the body trickles, other clients are answered.
  for (int i = 0; i < 5; ++i) {
    auto r = stack.Get("/v1/requests");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  // The slow client is cut off: the server closes its connection without creating anything.
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  ssize_t n;
  std::string answer;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) answer.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(n, 0) << "connection not closed by the server";
  close(fd);
  EXPECT_EQ(answer.find("202"), std::string::npos) << answer;
  EXPECT_EQ(stack.Sql("SELECT count(*) FROM requests"), "0");
}

}  // namespace
}  // namespace wf::test
