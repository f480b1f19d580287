// Request callbacks against the real binaries: when a request with a callback_url ends,
// the engine POSTs its final status and outputs, signed with HMAC-SHA256, retries a
// receiver that fails, and every attempt shows on the request.
#include <mutex>

#include "harness.h"
#include "wf/core/crypto.h"

namespace wf::test {
namespace {

constexpr const char* kKey = "callback-signing-key-0123456789";

struct Received {
  std::string body, timestamp, signature, idempotency_key, content_type;
};

// A callback receiver that answers the statuses it is given in turn (then 200).
class Receiver {
 public:
  explicit Receiver(std::vector<int> statuses = {}) : statuses_(std::move(statuses)) {
    http_.server().Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      got_.push_back(
          {req.body, req.get_header_value("X-WF-Timestamp"), req.get_header_value("X-WF-Signature"),
           req.get_header_value("Idempotency-Key"), req.get_header_value("Content-Type")});
      int status = next_ < statuses_.size() ? statuses_[next_++] : 200;
      res.status = status;
      res.set_content("{}", "application/json");
    });
    http_.Start();
  }
  std::string url() const { return http_.url() + "/hook"; }
  std::vector<Received> got() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }

 private:
  TestHttpServer http_;
  std::mutex mu_;
  std::vector<int> statuses_;
  size_t next_ = 0;
  std::vector<Received> got_;
};

class CallbacksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = MakeTempDir("wf-callbacks");
    WriteFile(dir + "/callback.key", std::string(kKey) + "\n");
    stack_.SetEnv("WF_CALLBACKS_SIGNING_KEY_FILE", dir + "/callback.key");
    stack_.SetEnv("WF_CALLBACKS_RETRY_BASE_MS", "100");
    stack_.SetEnv("WF_CALLBACKS_MAX_ATTEMPTS", "3");
    stack_.AddTemplate("greet", {{"name", "greet"},
                                 {"tasks",
                                  {{{"id", "hi"},
                                    {"type", "noop"},
                                    {"params", {{"outputs", {{"text", "hi ${data.who}"}}}}}}}},
                                 {"outputs", {{"text", "${tasks.hi.outputs.text}"}}}});
  }

  std::string SubmitWithCallback(const std::string& url) {
    auto r = stack_.Post(
        "/v1/requests", {{"template", "greet"}, {"data", {{"who", "ops"}}}, {"callback_url", url}});
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 202) << r->body;
    return json::parse(r->body)["request_id"];
  }

  json CallbackOf(const std::string& id) {
    auto r = stack_.Get("/v1/requests/" + id);
    if (!r || r->status != 200) return nullptr;
    return json::parse(r->body).value("callback", json());
  }

  Stack stack_;
};

TEST_F(CallbacksTest, SignedPostOfTheFinalStatusRetriedUntilDelivered) {
  Receiver receiver({500, 503});
  stack_.StartApi();
  stack_.StartEngine("engine-1");
  const std::string id = SubmitWithCallback(receiver.url());
  // Before the request ends, the callback is waiting.
  json done = stack_.WaitDone(id, std::chrono::seconds(30));
  ASSERT_EQ(done["status"], "succeeded") << done.dump();

  ASSERT_TRUE(WaitFor([&] { return CallbackOf(id).value("status", "") == "delivered"; },
                      std::chrono::seconds(30)))
      << CallbackOf(id).dump() << stack_.Logs();
  json cb = CallbackOf(id);
  EXPECT_EQ(cb["url"], receiver.url());
  EXPECT_EQ(cb["attempts"], 3);
  ASSERT_EQ(cb["history"].size(), 3u) << cb.dump();
  EXPECT_EQ(cb["history"][0]["http_status"], 500);
  EXPECT_EQ(cb["history"][0]["error"], "HTTP 500");
  EXPECT_EQ(cb["history"][1]["http_status"], 503);
  EXPECT_EQ(cb["history"][2]["http_status"], 200);
  EXPECT_FALSE(cb["history"][2].contains("error"));

  auto got = receiver.got();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& g : got) {
    EXPECT_EQ(g.content_type, "application/json");
    EXPECT_EQ(g.idempotency_key, id);
    ASSERT_FALSE(g.timestamp.empty());
    // The receiver's check: HMAC-SHA256 over "<timestamp>.<body>" with the shared key.
    EXPECT_EQ(g.signature, "sha256=" + HmacSha256Hex(kKey, g.timestamp + "." + g.body));
    EXPECT_NE(g.signature, "sha256=" + HmacSha256Hex("another key", g.timestamp + "." + g.body));
    json payload = json::parse(g.body);
    EXPECT_EQ(payload["request_id"], id);
    EXPECT_EQ(payload["trace_id"], done["trace_id"]);
    EXPECT_EQ(payload["template"], "greet");
    EXPECT_EQ(payload["status"], "succeeded");
    EXPECT_EQ(payload["outputs"]["text"], "hi ops");
  }
}

TEST_F(CallbacksTest, GivesUpAfterMaxAttemptsAndSaysSo) {
  Receiver receiver({500, 500, 500, 500});
  stack_.StartApi();
  stack_.StartEngine("engine-1");
  const std::string id = SubmitWithCallback(receiver.url());
  ASSERT_TRUE(WaitFor([&] { return CallbackOf(id).value("status", "") == "failed"; },
                      std::chrono::seconds(30)))
      << CallbackOf(id).dump();
  json cb = CallbackOf(id);
  EXPECT_EQ(cb["attempts"], 3);
  EXPECT_EQ(cb["last_error"], "HTTP 500");
  EXPECT_EQ(receiver.got().size(), 3u);
}

TEST_F(CallbacksTest, CancelledPendingRequestIsReportedAndUnreachableReceiverRetried) {
  // No engine yet: the request stays pending, then is cancelled.
  stack_.StartApi();
  const int dead_port = FreePort();
  const std::string id =
      SubmitWithCallback("http://127.0.0.1:" + std::to_string(dead_port) + "/hook");
  EXPECT_EQ(CallbackOf(id)["status"], "waiting") << CallbackOf(id).dump();
  auto c = stack_.Post("/v1/requests/" + id + "/cancel", json::object());
  ASSERT_TRUE(c);
  ASSERT_EQ(c->status, 200) << c->body;
  stack_.StartEngine("engine-1");
  ASSERT_TRUE(
      WaitFor([&] { return CallbackOf(id).value("attempts", 0) >= 1; }, std::chrono::seconds(30)))
      << CallbackOf(id).dump();
  json cb = CallbackOf(id);
  EXPECT_NE(cb["status"], "delivered");
  EXPECT_FALSE(cb["history"][0].contains("http_status"));
  EXPECT_FALSE(cb["history"][0]["error"].get<std::string>().empty());
}

TEST(CallbacksInputTest, BadOrUnsignableCallbackUrlIsRefusedAndWritesNothing) {
  Stack stack;
  stack.StartApi();
  // Without a signing key the server refuses to promise a callback.
  ExpectError(stack.Post("/v1/requests", {{"template", "hello"},
                                          {"data", {{"name", "x"}}},
                                          {"callback_url", "http://127.0.0.1:1/hook"}}),
              422, "callbacks_disabled", "/callback_url");
  for (const json& bad :
       {json("ftp://x/hook"), json(42), json(""), json("http://x/" + std::string(3000, 'a'))}) {
    ExpectError(
        stack.Post("/v1/requests",
                   {{"template", "hello"}, {"data", {{"name", "x"}}}, {"callback_url", bad}}),
        400, "invalid_request", "/callback_url");
  }
  EXPECT_EQ(stack.Sql("SELECT count(*) FROM requests"), "0");
}

}  // namespace
}  // namespace wf::test
