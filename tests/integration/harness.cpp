#include "harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <thread>

#include "wf/core/crypto.h"

extern char** environ;

namespace fs = std::filesystem;

namespace wf::test {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* dir = mkdtemp(buf.data());
  if (!dir) throw std::runtime_error("mkdtemp failed");
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// ---------------------------------------------------------------------------- Process

Process::Process(std::string name, std::string binary, std::vector<std::string> args,
                 std::map<std::string, std::string> env, std::string log_path)
    : name_(std::move(name)), log_path_(std::move(log_path)) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.rfind("WF_", 0) != 0)
      merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  int rc = posix_spawn(&pid_, binary.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("cannot start " + binary + ": " + strerror(rc));
}

Process::~Process() {
  if (Running()) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Process::Running() {
  if (status_ != -1) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

void Process::Signal(int sig) {
  if (Running()) kill(pid_, sig);
}

int Process::Wait(std::chrono::milliseconds timeout) {
  WaitFor([&] { return !Running(); }, timeout);
  return status_;
}

// ------------------------------------------------------------------------------ Stack

namespace {

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    throw std::runtime_error(std::string(name) +
                             " is not set: run the tests through ./deploy/local/test.sh, which "
                             "starts PostgreSQL and Redis for them");
  }
  return v;
}

// Replaces the database name at the end of a libpq URL.
std::string WithDatabase(const std::string& url, const std::string& db) {
  auto q = url.find('?');
  std::string base = url.substr(0, q);
  std::string query = q == std::string::npos ? "" : url.substr(q);
  auto slash = base.rfind('/');
  if (slash == std::string::npos || slash < base.find("://") + 3) return base + "/" + db + query;
  return base.substr(0, slash + 1) + db + query;
}

}  // namespace

Stack::Stack(const std::string& admin_url, const std::string& redis_url) {
  admin_url_ = admin_url.empty() ? RequireEnv("WF_TEST_DATABASE_URL") : admin_url;
  redis_url_ = redis_url.empty() ? RequireEnv("WF_TEST_REDIS_URL") : redis_url;
  std::random_device rd;
  db_name_ = "wf_it_" + std::to_string(getpid()) + "_" + std::to_string(rd() % 1000000);
  {
    pqxx::connection c(admin_url_);
    pqxx::nontransaction tx(c);
    tx.exec("CREATE DATABASE " + db_name_);
  }
  db_url_ = WithDatabase(admin_url_, db_name_);
  work_dir_ = MakeTempDir("wf-it");
  templates_dir_ = work_dir_ + "/templates";
  fs::create_directories(templates_dir_);
  for (const auto& entry : fs::directory_iterator(WF_SOURCE_DIR "/templates")) {
    if (entry.path().extension() == ".json") {
      fs::copy_file(entry.path(), fs::path(templates_dir_) / entry.path().filename());
    }
  }
  api_port_ = FreePort();
  env_ = {{"WF_DATABASE_URL", db_url_},
          {"WF_REDIS_URL", redis_url_},
          {"WF_TEMPLATES_DIR", templates_dir_},
          {"WF_API_HOST", "127.0.0.1"},
          {"WF_API_PORT", std::to_string(api_port_)},
          {"WF_ENGINE_POLL_MS", "200"},
          {"WF_LOG_LEVEL", "debug"},
          {"WF_API_TOKENS_FILE", work_dir_ + "/tokens.yaml"}};
  std::string tokens_yaml = "tokens:\n";
  for (const char* role : {"admin", "operator", "reader"}) {
    tokens_[role] = RandomHex(24);
    tokens_yaml += std::string("  - {name: it-") + role + ", role: " + role +
                   ", sha256: " + Sha256Hex(tokens_[role]) + "}\n";
  }
  WriteFile(work_dir_ + "/tokens.yaml", tokens_yaml);
  client_ = std::make_unique<httplib::Client>("127.0.0.1", api_port_);
  client_->set_bearer_token_auth(tokens_["admin"].c_str());
  client_->set_connection_timeout(5, 0);
  client_->set_read_timeout(30, 0);
}

Stack::~Stack() {
  for (auto& p : processes_) p->Signal(SIGTERM);
  for (auto& p : processes_) {
    if (p->Wait(std::chrono::seconds(20)) == -1) p->Signal(SIGKILL);
  }
  if (::testing::Test::HasFailure()) std::cerr << Logs();
  processes_.clear();
  try {
    pqxx::connection c(admin_url_);
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + db_name_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::cerr << "dropping " << db_name_ << ": " << e.what() << "\n";
  }
  std::error_code ec;
  fs::remove_all(work_dir_, ec);
}

void Stack::AddTemplate(const std::string& name, const json& doc) {
  WriteFile(templates_dir_ + "/" + name + ".json", doc.dump(2));
}

Process& Stack::StartApiNoWait() {
  processes_.push_back(std::make_unique<Process>("wf-api", WF_API_BIN, std::vector<std::string>{},
                                                 env_, work_dir_ + "/api.log"));
  return *processes_.back();
}

Process& Stack::StartApi() {
  StartApiNoWait();
  bool ready = WaitFor(
      [&] {
        auto r = client_->Get("/readyz");
        return r && r->status == 200;
      },
      std::chrono::seconds(30));
  if (!ready) throw std::runtime_error("wf-api did not become ready:\n" + Logs());
  return *processes_.back();
}

Process& Stack::StartEngine(const std::string& id) {
  auto env = env_;
  env["WF_ENGINE_ID"] = id;
  processes_.push_back(std::make_unique<Process>(id, WF_ENGINE_BIN, std::vector<std::string>{}, env,
                                                 work_dir_ + "/" + id + ".log"));
  return *processes_.back();
}

httplib::Result Stack::Post(const std::string& path, const json& body) {
  return client_->Post(path.c_str(), body.dump(), "application/json");
}

httplib::Result Stack::PostRaw(const std::string& path, const std::string& body,
                               const std::string& content_type) {
  return client_->Post(path.c_str(), body, content_type.c_str());
}

httplib::Result Stack::Get(const std::string& path) { return client_->Get(path.c_str()); }

// A client of its own, so that the admin token of client_ is not sent as well.
httplib::Result Stack::GetAs(const std::string& token, const std::string& path) {
  httplib::Client c("127.0.0.1", api_port_);
  if (!token.empty()) c.set_bearer_token_auth(token.c_str());
  return c.Get(path.c_str());
}

httplib::Result Stack::PostAs(const std::string& token, const std::string& path, const json& body) {
  httplib::Client c("127.0.0.1", api_port_);
  if (!token.empty()) c.set_bearer_token_auth(token.c_str());
  return c.Post(path.c_str(), body.dump(), "application/json");
}

std::string Stack::Submit(const std::string& tmpl, const json& data, const std::string& trace_id) {
  json body = {{"template", tmpl}, {"data", data}};
  if (!trace_id.empty()) body["trace_id"] = trace_id;
  auto r = Post("/v1/requests", body);
  if (!r) throw std::runtime_error("submit: no answer from the API");
  if (r->status != 202)
    throw std::runtime_error("submit: HTTP " + std::to_string(r->status) + " " + r->body);
  return json::parse(r->body).at("request_id").get<std::string>();
}

json Stack::WaitDone(const std::string& id, std::chrono::milliseconds timeout) {
  json last;
  bool done = WaitFor(
      [&] {
        auto r = Get("/v1/requests/" + id);
        if (!r || r->status != 200) return false;
        last = json::parse(r->body);
        std::string s = last["status"];
        return s == "succeeded" || s == "failed" || s == "cancelled";
      },
      timeout);
  if (!done) {
    throw std::runtime_error("request " + id + " did not finish; last: " + last.dump(2) + "\n" +
                             Logs());
  }
  return last;
}

std::string Stack::Sql(const std::string& query) {
  pqxx::connection c(db_url_);
  pqxx::nontransaction tx(c);
  auto r = tx.exec(query);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

std::string Stack::Logs() const {
  std::string out;
  for (const auto& p : processes_) {
    std::string log = p->Log();
    if (log.size() > 20000) log = "...\n" + log.substr(log.size() - 20000);
    out += "===== " + p->name() + " log =====\n" + log + "\n";
  }
  return out;
}

// ----------------------------------------------------------------------- PrivateServer

namespace {

void RunLib(const std::string& call) {
  std::string cmd = "bash -c 'source " WF_SOURCE_DIR "/deploy/local/lib.sh && " + call + "' >>" +
                    "/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + call);
}

}  // namespace

PrivateServer::PrivateServer(Kind kind) : kind_(kind), port_(FreePort()) {
  dir_ = MakeTempDir(kind == Kind::kPostgres ? "wf-pg" : "wf-redis");
  chmod(dir_.c_str(), 0755);
  Start();
}

PrivateServer::~PrivateServer() {
  try {
    Stop();
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void PrivateServer::Start() {
  if (kind_ == Kind::kPostgres) {
    RunLib("wf_pg_start " + dir_ + "/pg " + std::to_string(port_));
  } else {
    RunLib("wf_redis_start " + dir_ + "/redis " + std::to_string(port_));
  }
}

void PrivateServer::Stop() {
  RunLib(kind_ == Kind::kPostgres ? "wf_pg_stop " + dir_ + "/pg"
                                  : "wf_redis_stop " + dir_ + "/redis");
}

std::string PrivateServer::url() const {
  return kind_ == Kind::kPostgres
             ? "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres"
             : "redis://127.0.0.1:" + std::to_string(port_);
}

// --------------------------------------------------------------------------- helpers

Stack* ApiSuite::stack_ = nullptr;
std::string ApiSuite::setup_error_;

void ApiSuite::SetUpTestSuite() {
  setup_error_.clear();
  try {
    stack_ = new Stack();
    stack_->StartApi();
  } catch (const std::exception& e) {
    setup_error_ = e.what();
  }
}

void ApiSuite::TearDownTestSuite() {
  delete stack_;
  stack_ = nullptr;
}

void ExpectError(const httplib::Result& r, int status, const std::string& code,
                 const std::string& path) {
  ASSERT_TRUE(r) << "no answer";
  EXPECT_EQ(r->status, status) << r->body;
  json body = json::parse(r->body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << r->body;
  EXPECT_EQ(body["error"]["code"], code) << r->body;
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
  if (!path.empty()) {
    EXPECT_EQ(body["error"]["path"], path) << r->body;
  }
}

json TaskById(const json& request, const std::string& id) {
  for (const auto& t : request["tasks"]) {
    if (t["id"] == id) return t;
  }
  ADD_FAILURE() << "no task " << id << " in " << request.dump(2);
  return json::object();
}

}  // namespace wf::test
