// The notify module: webhooks to a local HTTP server, e-mail to a local SMTP receiver
// (a test double for a mail server).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "builtin.h"
#include "task_fixture.h"
#include "test_servers.h"

namespace wf {
namespace {

using Kind = TaskOutcome::Kind;

TEST(NotifyWebhook, PostsTheMessageOnceAndSucceedsOn2xx) {
  test::LocalHttpServer server;
  std::mutex mu;
  std::vector<httplib::Request> received;
  server.server().Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    received.push_back(req);
    res.status = 204;
  });
  server.Start();

  test::TaskFixture f;
  auto task = MakeNotifyTask();
  json params = {{"webhook",
                  {{"url", server.url() + "/hook"},
                   {"headers", {{"Authorization", "Bearer t0ken"}}},
                   {"body", {{"text", "request req-1 arrived"}, {"cpu", 4}}}}}};
  TaskOutcome o = f.Invoke(*task, params);
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs, json({{"channel", "webhook"}, {"status", 204}}));
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(received.size(), 1u);
    EXPECT_EQ(json::parse(received[0].body), json({{"text", "request req-1 arrived"}, {"cpu", 4}}));
    EXPECT_EQ(received[0].get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(received[0].get_header_value("Authorization"), "Bearer t0ken");
    EXPECT_EQ(received[0].get_header_value("Idempotency-Key"), "req-1/t1");
  }
  // Invoked again (an engine restart before the completion was recorded): not sent twice.
  o = f.Invoke(*task, params);
  ASSERT_EQ(o.kind, Kind::kSucceeded);
  EXPECT_EQ(o.outputs["status"], 204);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(received.size(), 1u);
}

TEST(NotifyWebhook, ServerErrorsAndConnectionErrorsAreRetryable) {
  test::LocalHttpServer server;
  server.server().Post("/busy",
                       [&](const httplib::Request&, httplib::Response& res) { res.status = 503; });
  server.server().Post("/bad", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 400;
    res.set_content("no such channel", "text/plain");
  });
  server.Start();
  int closed_port;
  {
    test::LocalHttpServer closed;
    closed.Start();
    closed_port = std::stoi(closed.url().substr(closed.url().rfind(':') + 1));
  }
  auto task = MakeNotifyTask();
  auto send = [&](const std::string& url) {
    test::TaskFixture f;
    return f.Invoke(*task, {{"webhook", {{"url", url}, {"body", {{"text", "x"}}}}}});
  };
  TaskOutcome o = send(server.url() + "/busy");
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable);
  EXPECT_NE(o.error.find("status 503"), std::string::npos) << o.error;
  o = send(server.url() + "/bad");
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("status 400: no such channel"), std::string::npos) << o.error;
  o = send("http://127.0.0.1:" + std::to_string(closed_port) + "/hook");
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable) << o.error;
}

json Email(const test::SmtpReceiver& smtp) {
  return {{"email",
           {{"smtp_url", smtp.url()},
            {"from", "Workflow Engine <wf@example.com>"},
            {"to", {"alice@example.com", "Bob <bob@example.com>"}},
            {"cc", {"ops@example.com"}},
            {"subject", "Your request req-1 arrived \xe2\x80\x94 thanks"},
            {"body", "Hello,\nyour request arrived.\n.a line starting with a dot\nBye"}}}};
}

TEST(NotifyEmail, SendsTheMessageOverSmtp) {
  test::SmtpReceiver smtp;
  test::TaskFixture f;
  auto task = MakeNotifyTask();
  TaskOutcome o = f.Invoke(*task, Email(smtp));
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs["channel"], "email");
  EXPECT_EQ(o.outputs["recipients"], 3);
  EXPECT_EQ(o.outputs["message_id"], "<req-1.t1@wf-engine>");

  std::vector<test::SmtpReceiver::Message> messages = smtp.messages();
  ASSERT_EQ(messages.size(), 1u);
  const auto& m = messages[0];
  EXPECT_EQ(m.mail_from, "<wf@example.com>");
  EXPECT_EQ(m.rcpt, (std::vector<std::string>{"<alice@example.com>", "<bob@example.com>",
                                              "<ops@example.com>"}));
  EXPECT_NE(m.data.find("From: Workflow Engine <wf@example.com>\r\n"), std::string::npos) << m.data;
  EXPECT_NE(m.data.find("To: alice@example.com, Bob <bob@example.com>\r\n"), std::string::npos);
  EXPECT_NE(m.data.find("Cc: ops@example.com\r\n"), std::string::npos);
  // Not ASCII, so an RFC 2047 encoded word.
  EXPECT_NE(
      m.data.find("Subject: =?UTF-8?B?WW91ciByZXF1ZXN0IHJlcS0xIGFycml2ZWQg4oCUIHRoYW5rcw==?=\r\n"),
      std::string::npos)
      << m.data;
  EXPECT_NE(m.data.find("X-Trace-Id: trace-1\r\n"), std::string::npos);
  EXPECT_NE(m.data.find("\r\n\r\nHello,\r\nyour request arrived.\r\n.a line starting with a "
                        "dot\r\nBye\r\n"),
            std::string::npos)
      << m.data;

  o = f.Invoke(*task, Email(smtp));
  ASSERT_EQ(o.kind, Kind::kSucceeded);
  EXPECT_EQ(smtp.messages().size(), 1u);  // not sent twice
}

TEST(NotifyEmail, TransientRepliesAreRetryablePermanentOnesAreNot) {
  test::SmtpReceiver smtp;
  auto task = MakeNotifyTask();
  smtp.SetRcptReply("451 4.3.0 mailbox busy, try later");
  test::TaskFixture f;
  TaskOutcome o = f.Invoke(*task, Email(smtp));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable) << o.error;
  EXPECT_NE(o.error.find("server reply 451"), std::string::npos) << o.error;

  smtp.SetRcptReply("550 5.1.1 no such user");
  test::TaskFixture g;
  o = g.Invoke(*task, Email(smtp));
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable) << o.error;
  EXPECT_NE(o.error.find("server reply 550"), std::string::npos) << o.error;
  EXPECT_TRUE(smtp.messages().empty());
  EXPECT_TRUE(g.state.values().empty());
}

TEST(NotifyEmail, AnUnreachableServerIsRetryable) {
  int port;
  {
    test::SmtpReceiver gone;
    port = gone.port();
  }
  test::SmtpReceiver smtp;
  json params = Email(smtp);
  params["email"]["smtp_url"] = "smtp://127.0.0.1:" + std::to_string(port);
  test::TaskFixture f;
  TaskOutcome o = f.Invoke(*MakeNotifyTask(), params);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(o.retryable) << o.error;
}

TEST(NotifyEmail, RequiredStarttlsThatIsNotOfferedFailsForGood) {
  test::SmtpReceiver smtp;  // offers no STARTTLS
  json params = Email(smtp);
  params["email"]["starttls"] = "required";
  test::TaskFixture f;
  TaskOutcome o = f.Invoke(*MakeNotifyTask(), params);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable) << o.error;
  EXPECT_NE(o.error.find("email via smtp://127.0.0.1:"), std::string::npos) << o.error;
  EXPECT_TRUE(smtp.messages().empty());
}

TEST(NotifyEmail, AuthenticatesWithTheGivenCredentials) {
  test::SmtpReceiver smtp;
  smtp.RequireAuth("wf-engine", "s3cret");
  json params = Email(smtp);
  params["email"]["username"] = "wf-engine";
  params["email"]["password"] = "s3cret";
  test::TaskFixture f;
  TaskOutcome o = f.Invoke(*MakeNotifyTask(), params);
  ASSERT_EQ(o.kind, Kind::kSucceeded) << o.error;
  ASSERT_EQ(smtp.messages().size(), 1u);
  EXPECT_EQ(smtp.messages()[0].auth_user, "wf-engine");

  params["email"]["password"] = "wrong";
  test::TaskFixture g;
  o = g.Invoke(*MakeNotifyTask(), params);
  ASSERT_EQ(o.kind, Kind::kFailed);
  EXPECT_FALSE(o.retryable) << o.error;
  EXPECT_EQ(smtp.messages().size(), 1u);
}

TEST(NotifyParams, AreCheckedWithTheirPaths) {
  auto task = MakeNotifyTask();
  auto check = [&](const json& params) { return task->Validate(params, "/tasks/3/params"); };
  test::SmtpReceiver smtp;
  EXPECT_TRUE(check(Email(smtp)).ok()) << check(Email(smtp)).ToString();
  EXPECT_TRUE(check({{"webhook", {{"url", "${data.hook}"}, {"body", {{"x", 1}}}}}}).ok());

  Status s = check(json::object());
  EXPECT_EQ(s.message(), "give exactly one of 'webhook' and 'email'");
  EXPECT_EQ(s.path(), "/tasks/3/params");
  json both = Email(smtp);
  both["webhook"] = {{"url", "http://x/"}};
  EXPECT_FALSE(check(both).ok());

  json bad = Email(smtp);
  bad["email"]["to"][1] = "not an address";
  s = check(bad);
  EXPECT_EQ(s.path(), "/tasks/3/params/email/to/1");
  bad = Email(smtp);
  bad["email"]["subject"] = "hi\r\nBcc: everyone@example.com";
  s = check(bad);
  EXPECT_EQ(s.path(), "/tasks/3/params/email/subject");
  EXPECT_EQ(s.message(), "must not contain line breaks");
  bad = Email(smtp);
  bad["email"]["smtp_url"] = "http://mail.example.com";
  EXPECT_EQ(check(bad).path(), "/tasks/3/params/email/smtp_url");
  bad = Email(smtp);
  bad["email"]["starttls"] = "maybe";
  EXPECT_EQ(check(bad).path(), "/tasks/3/params/email/starttls");
  bad = Email(smtp);
  bad["email"].erase("from");
  EXPECT_EQ(check(bad).path(), "/tasks/3/params/email/from");
  bad = Email(smtp);
  bad["email"]["bcc"] = json::array();
  EXPECT_EQ(check(bad).path(), "/tasks/3/params/email/bcc");
  s = check({{"webhook", {{"url", "http://x/"}, {"headers", {{"X", 1}}}}}});
  EXPECT_EQ(s.path(), "/tasks/3/params/webhook/headers/X");
}

}  // namespace
}  // namespace wf
