// Integration test harness: a fresh PostgreSQL database per test, the real wf-api and
// wf-engine binaries started as child processes on free loopback ports, and helpers to
// talk to them. Needs WF_TEST_DATABASE_URL (a superuser URL; deploy/local/test.sh sets
// it) and WF_TEST_REDIS_URL.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "double_server.h"

namespace wf::test {

using json = nlohmann::json;

int FreePort();
std::string MakeTempDir(const std::string& prefix);
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& text);

// Polls `pred` every 20 ms until it holds or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// A child process with its output in a log file.
class Process {
 public:
  Process(std::string name, std::string binary, std::vector<std::string> args,
          std::map<std::string, std::string> env, std::string log_path);
  ~Process();  // SIGKILL if still running
  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int sig);
  // Waits for exit; returns the exit code (or 128+signal), -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  std::string Log() const { return ReadFile(log_path_); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::string log_path_;
  pid_t pid_ = -1;
  int status_ = -1;
};

// A private PostgreSQL or Redis server of one test, started with deploy/local/lib.sh, for
// tests that stop and restart it.
class PrivateServer {
 public:
  enum class Kind { kPostgres, kRedis };
  explicit PrivateServer(Kind kind);
  ~PrivateServer();
  void Start();
  void Stop();
  // postgresql://postgres@127.0.0.1:<port>/postgres or redis://127.0.0.1:<port>
  std::string url() const;

 private:
  Kind kind_;
  std::string dir_;
  int port_;
};

// A throw-away database plus the services running on it.
class Stack {
 public:
  // `admin_url`/`redis_url`: servers to use instead of WF_TEST_DATABASE_URL/WF_TEST_REDIS_URL.
  explicit Stack(const std::string& admin_url = "", const std::string& redis_url = "");
  ~Stack();  // stops processes, drops the database

  // Templates folder the services use: the repository's templates plus anything added.
  const std::string& templates_dir() const { return templates_dir_; }
  void AddTemplate(const std::string& name, const json& doc);

  // Extra environment for the services started after this call (e.g. WF_ENGINE_*).
  void SetEnv(const std::string& key, const std::string& value) { env_[key] = value; }

  Process& StartApi();
  // Starts wf-api without waiting for it to become ready (for tests of start-up failures).
  Process& StartApiNoWait();
  // The environment given to the services ("" when unset).
  std::string env(const std::string& key) const {
    auto it = env_.find(key);
    return it == env_.end() ? "" : it->second;
  }
  Process& StartEngine(const std::string& id);
  std::string api_url() const { return "http://127.0.0.1:" + std::to_string(api_port_); }
  const std::string& database_url() const { return db_url_; }
  const std::string& redis_url() const { return redis_url_; }

  // API tokens in the stack's tokens file, by role: "admin", "operator", "reader". The
  // methods below send the admin token; the *As variants send the one given ("" for none).
  const std::string& token(const std::string& role) const { return tokens_.at(role); }
  // Runs the API without auth (api.auth: disabled) when started after this call.
  void DisableAuth() { env_["WF_API_AUTH"] = "disabled"; }

  // HTTP to the API.
  httplib::Result Post(const std::string& path, const json& body);
  httplib::Result PostRaw(const std::string& path, const std::string& body,
                          const std::string& content_type);
  httplib::Result Get(const std::string& path);
  httplib::Result GetAs(const std::string& token, const std::string& path);
  httplib::Result PostAs(const std::string& token, const std::string& path, const json& body);

  // Submits and returns the request id (asserts 202).
  std::string Submit(const std::string& tmpl, const json& data, const std::string& trace_id = "");
  // Waits for a terminal status and returns the request JSON.
  json WaitDone(const std::string& request_id, std::chrono::milliseconds timeout);
  // One SQL value as text ("" for NULL), on the test database.
  std::string Sql(const std::string& query);

  // Every process's log, for failure messages.
  std::string Logs() const;

 private:
  std::string admin_url_;
  std::string db_name_;
  std::string db_url_;
  std::string redis_url_;
  std::string work_dir_;
  std::string templates_dir_;
  int api_port_ = 0;
  std::map<std::string, std::string> env_;
  std::map<std::string, std::string> tokens_;
  std::vector<std::unique_ptr<Process>> processes_;
  std::unique_ptr<httplib::Client> client_;
};

// A test suite sharing one wf-api (no engine) on a fresh database. A failure to start
// it fails every test of the suite; it never skips them.
class ApiSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }
  static Stack* stack_;
  static std::string setup_error_;
};

// Asserts an error answer: status, code, a message, and (when given) the JSON path.
void ExpectError(const httplib::Result& r, int status, const std::string& code,
                 const std::string& path = "");

// The task `id` of a request as GET /v1/requests/{id} shows it (a failure when absent).
json TaskById(const json& request, const std::string& id);

// A local HTTP server for `http` tasks to call, on a free loopback port.
using TestHttpServer = LocalHttpServer;

}  // namespace wf::test
