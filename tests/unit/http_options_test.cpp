// The http module's request options against real servers: form bodies, bearer and basic
// auth, redirects, the response size limit, a proxy, and TLS against `openssl s_server`
// with a CA and client certificates made for the test.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "builtin.h"
#include "task_fixture.h"
#include "test_servers.h"

namespace wf {
namespace {

namespace fs = std::filesystem;

class HttpOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.server().Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = req;
      res.set_content(R"({"ok": true})", "application/json");
    });
    server_.server().Get("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = req;
      res.set_content(R"({"ok": true})", "application/json");
    });
    server_.server().Get("/moved", [](const httplib::Request&, httplib::Response& res) {
      res.status = 302;
      res.set_header("Location", "/echo");
    });
    server_.server().Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(4096, 'x'), "text/plain");
    });
    server_.Start();
  }
  TaskOutcome Call(const json& params) {
    auto task = MakeHttpTask();
    Status v = task->Validate(params, "/tasks/0/params");
    EXPECT_TRUE(v.ok()) << v.ToString();
    return fixture_.Invoke(*task, params);
  }
  httplib::Request last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

  test::LocalHttpServer server_;
  test::TaskFixture fixture_;
  std::mutex mu_;
  httplib::Request last_;
};

TEST_F(HttpOptionsTest, FormBodyIsUrlEncoded) {
  TaskOutcome o = Call({{"url", server_.url() + "/echo"},
                        {"method", "POST"},
                        {"form", {{"name", "web 01"}, {"count", 3}, {"on", true}}}});
  ASSERT_EQ(o.kind, TaskOutcome::Kind::kSucceeded) << o.error;
  EXPECT_EQ(last().get_header_value("Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(last().body, "count=3&name=web%2001&on=true");
}

TEST_F(HttpOptionsTest, BearerAndBasicAuthBecomeTheAuthorizationHeader) {
  ASSERT_EQ(Call({{"url", server_.url() + "/echo"}, {"auth", {{"bearer", "tok-1"}}}}).kind,
            TaskOutcome::Kind::kSucceeded);
  EXPECT_EQ(last().get_header_value("Authorization"), "Bearer tok-1");
  ASSERT_EQ(Call({{"url", server_.url() + "/echo"},
                  {"auth", {{"basic", {{"username", "ops"}, {"password", "p:w"}}}}}})
                .kind,
            TaskOutcome::Kind::kSucceeded);
  EXPECT_EQ(last().get_header_value("Authorization"), "Basic b3BzOnA6dw==");  // ops:p:w
}

TEST_F(HttpOptionsTest, RedirectsAreFollowedOnlyWhenAsked) {
  TaskOutcome o = Call({{"url", server_.url() + "/moved"}});
  EXPECT_EQ(o.kind, TaskOutcome::Kind::kFailed);
  EXPECT_NE(o.error.find("302"), std::string::npos) << o.error;
  o = Call({{"url", server_.url() + "/moved"}, {"follow_redirects", true}});
  ASSERT_EQ(o.kind, TaskOutcome::Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs["status"], 200);
  o = Call({{"url", server_.url() + "/moved"}, {"follow_redirects", true}, {"max_redirects", 0}});
  EXPECT_EQ(o.kind, TaskOutcome::Kind::kFailed);
}

TEST_F(HttpOptionsTest, AnAnswerOverTheSizeLimitFailsTheCall) {
  TaskOutcome o = Call({{"url", server_.url() + "/big"}, {"max_response_bytes", 1024}});
  EXPECT_EQ(o.kind, TaskOutcome::Kind::kFailed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("exceeds the limit of 1024 bytes"), std::string::npos) << o.error;
  EXPECT_EQ(Call({{"url", server_.url() + "/big"}}).kind, TaskOutcome::Kind::kSucceeded);
}

TEST_F(HttpOptionsTest, AProxySeesTheRequest) {
  // A forward proxy in miniature: cpp-httplib receives the absolute-form request line.
  test::LocalHttpServer proxy;
  std::string seen;
  std::mutex mu;
  proxy.server().Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    seen = req.get_header_value("Host") + " " + req.path;
    res.set_content(R"({"via": "proxy"})", "application/json");
  });
  proxy.Start();
  TaskOutcome o = Call({{"url", "http://inventory.invalid/hosts"}, {"proxy", proxy.url()}});
  ASSERT_EQ(o.kind, TaskOutcome::Kind::kSucceeded) << o.error;
  EXPECT_EQ(o.outputs["body"]["via"], "proxy");
  std::lock_guard<std::mutex> lock(mu);
  // The absolute-form request line a client sends to a forward proxy.
  EXPECT_EQ(seen, "inventory.invalid http://inventory.invalid/hosts");
}

TEST_F(HttpOptionsTest, BadOptionsNameTheirPath) {
  auto task = MakeHttpTask();
  auto error = [&](const json& extra) {
    json params = {{"url", "http://x/"}};
    params.update(extra);
    return task->Validate(params, "/tasks/0/params").ToString();
  };
  EXPECT_NE(error({{"auth", {{"token", "x"}}}}).find("/tasks/0/params/auth"), std::string::npos);
  EXPECT_NE(error({{"auth", {{"basic", {{"username", "u"}}}}}}).find("/auth/basic/password"),
            std::string::npos);
  EXPECT_NE(error({{"tls", {{"verify", "no"}}}}).find("/tls/verify"), std::string::npos);
  EXPECT_NE(error({{"tls", {{"pinning", true}}}}).find("/tls/pinning"), std::string::npos);
  EXPECT_NE(error({{"proxy", "socks5://p:1080"}}).find("/proxy"), std::string::npos);
  EXPECT_NE(error({{"form", {{"a", "b"}}}, {"body", "x"}}).find("/form"), std::string::npos);
  EXPECT_NE(error({{"max_redirects", 99}}).find("/max_redirects"), std::string::npos);
  EXPECT_NE(error({{"max_response_bytes", 0}}).find("/max_response_bytes"), std::string::npos);
}

// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
class Pki {
 public:
  Pki() {
    dir_ = fs::temp_directory_path() / ("wf-pki-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    const std::string d = dir_.string();
    const std::string script =
        "set -e; cd '" + d +
        "'\n"
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj /CN=wf-test-ca 2>/dev/null\n"
        "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext\n"
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
        "-subj /CN=127.0.0.1 2>/dev/null\n"
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile san.ext 2>/dev/null\n"
        "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
        "-subj /CN=wf-engine 2>/dev/null\n"
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out client.pem -days 2 2>/dev/null\n";
    ok_ = std::system(("bash -c \"$(cat <<'EOF'\n" + script + "\nEOF\n)\"").c_str()) == 0;
  }
  ~Pki() { fs::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
  bool ok_ = false;
};

// `openssl s_server -www` on a free port: answers any GET over TLS with a status page.
class TlsServer {
 public:
  TlsServer(const Pki& pki, bool require_client_cert) {
    port_ = FreePort();
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<std::string> args = {"openssl", "s_server",
                                       "-quiet",  "-www",
                                       "-accept", "127.0.0.1:" + std::to_string(port_),
                                       "-cert",   pki.file("server.pem"),
                                       "-key",    pki.file("server.key")};
      if (require_client_cert) {
        for (const char* a : {"-Verify", "1", "-verify_return_error", "-CAfile"}) args.push_back(a);
        args.push_back(pki.file("ca.pem"));
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      freopen("/dev/null", "w", stdout);
      freopen("/dev/null", "w", stderr);
      execvp("openssl", argv.data());
      _exit(127);
    }
    // Ready when it accepts connections.
    for (int i = 0; i < 200 && !Accepting(); ++i) usleep(20000);
  }
  ~TlsServer() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
  }
  bool Accepting() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
  }
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST(HttpTls, VerifiesAgainstTheGivenCaAndSendsAClientCertificate) {
  Pki pki;
  ASSERT_TRUE(pki.ok());
  auto task = MakeHttpTask();
  test::TaskFixture f;
  {
    TlsServer server(pki, /*require_client_cert=*/false);
    // The system bundle does not know the test CA: verification fails, for good.
    TaskOutcome o = f.Invoke(*task, {{"url", server.url()}});
    EXPECT_EQ(o.kind, TaskOutcome::Kind::kFailed);
    EXPECT_FALSE(o.retryable) << o.error;
    o = f.Invoke(*task, {{"url", server.url()}, {"tls", {{"ca_file", pki.file("ca.pem")}}}});
    EXPECT_EQ(o.kind, TaskOutcome::Kind::kSucceeded) << o.error;
    o = f.Invoke(*task, {{"url", server.url()}, {"tls", {{"verify", false}}}});
    EXPECT_EQ(o.kind, TaskOutcome::Kind::kSucceeded) << o.error;
  }
  {
    TlsServer server(pki, /*require_client_cert=*/true);
    TaskOutcome o =
        f.Invoke(*task, {{"url", server.url()}, {"tls", {{"ca_file", pki.file("ca.pem")}}}});
    EXPECT_EQ(o.kind, TaskOutcome::Kind::kFailed) << "accepted without a client certificate";
    o = f.Invoke(*task, {{"url", server.url()},
                         {"tls",
                          {{"ca_file", pki.file("ca.pem")},
                           {"client_cert", pki.file("client.pem")},
                           {"client_key", pki.file("client.key")}}}});
    EXPECT_EQ(o.kind, TaskOutcome::Kind::kSucceeded) << o.error;
  }
}

}  // namespace
}  // namespace wf
