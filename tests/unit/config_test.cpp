// Tests for LoadConfig: defaults, YAML values, WF_* environment overrides and errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "wf/config.h"
#include "wf/secrets.h"

namespace wf {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("wf-config-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter++) + "-" + std::to_string(rd()));
    ASSERT_TRUE(fs::create_directories(dir_));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Write(const std::string& text, const std::string& name = "wf.yaml") {
    fs::path p = dir_ / name;
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    return p.string();
  }

  Config MustLoad(const std::string& path, const std::map<std::string, std::string>& env = {}) {
    auto r = LoadConfig(path, env);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Config{};
  }

  std::string LoadError(const std::string& path,
                        const std::map<std::string, std::string>& env = {}) {
    auto r = LoadConfig(path, env);
    EXPECT_FALSE(r.ok());
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    return r.status().message();
  }

  fs::path dir_;
};

TEST_F(ConfigTest, SecretsFromAFileAndTheEnvironment) {
  std::string path = Write("tfe_token: from-file\nawx_password: pw-file\nport: 8443\n", "s.yaml");
  auto s = LoadSecrets(path, {{"WF_SECRET_AWX_PASSWORD", "pw-env"}, {"WF_API_PORT", "1"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(*s, (json{{"tfe_token", "from-file"}, {"awx_password", "pw-env"}, {"port", "8443"}}));
  auto none = LoadSecrets("", {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(ConfigTest, BadSecretsNameTheEntryButNeverTheValue) {
  auto bad_name = LoadSecrets(Write("Token-X: value-one\n", "a.yaml"), {});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_NE(bad_name.status().message().find("'Token-X' is not a secret name"), std::string::npos);
  EXPECT_EQ(bad_name.status().message().find("value-one"), std::string::npos);
  auto nested = LoadSecrets(Write("tfe:\n  token: value-two\n", "b.yaml"), {});
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.status().message().find("tfe: expected a string"), std::string::npos);
  EXPECT_FALSE(LoadSecrets(Write("- a\n- b\n", "c.yaml"), {}).ok());
  EXPECT_FALSE(LoadSecrets((dir_ / "missing.yaml").string(), {}).ok());
  auto env = LoadSecrets("", {{"WF_SECRET_", "x"}});
  EXPECT_FALSE(env.ok());
}

TEST_F(ConfigTest, Defaults) {
  Config c = MustLoad("");
  EXPECT_EQ(c.database_url, "postgresql://postgres@127.0.0.1:55432/wf");
  EXPECT_EQ(c.database_pool, 8);
  EXPECT_EQ(c.redis_url, "redis://127.0.0.1:56379");
  EXPECT_EQ(c.templates_dir, "templates");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.api.host, "127.0.0.1");
  EXPECT_EQ(c.api.port, 8470);
  EXPECT_EQ(c.api.threads, 16);
  EXPECT_EQ(c.api.max_body_bytes, 1 << 20);
  EXPECT_EQ(c.engine.workers, 8);
  EXPECT_EQ(c.engine.max_inflight, 2000);
  EXPECT_EQ(c.engine.claim_batch, 64);
  EXPECT_EQ(c.engine.poll_ms, 1000);
  EXPECT_EQ(c.engine.lease_ms, 30000);
  EXPECT_EQ(c.engine.commit_batch, 512);
  EXPECT_EQ(c.engine.committers, 2);
  EXPECT_EQ(c.engine.shutdown_grace_ms, 20000);
  EXPECT_EQ(c.engine.max_claims, 10);
}

TEST_F(ConfigTest, EmptyFileKeepsDefaults) {
  Config c = MustLoad(Write(""));
  EXPECT_EQ(c.api.port, 8470);
  EXPECT_EQ(c.engine.lease_ms, 30000);
}

TEST_F(ConfigTest, ReadsYamlValues) {
  std::string path = Write(R"(
database_url: postgresql://u@db:5432/x
database_pool: 3
templates_dir: /etc/wf/templates
log_level: debug
api:
  host: 0.0.0.0
  port: 9000
  max_body_bytes: 4096
engine:
  id: engine-7
  lease_ms: 5000
  workers: 4
  shutdown_grace_ms: 0
)");
  Config c = MustLoad(path);
  EXPECT_EQ(c.database_url, "postgresql://u@db:5432/x");
  EXPECT_EQ(c.database_pool, 3);
  EXPECT_EQ(c.templates_dir, "/etc/wf/templates");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.api.host, "0.0.0.0");
  EXPECT_EQ(c.api.port, 9000);
  EXPECT_EQ(c.api.max_body_bytes, 4096);
  EXPECT_EQ(c.engine.id, "engine-7");
  EXPECT_EQ(c.engine.lease_ms, 5000);
  EXPECT_EQ(c.engine.workers, 4);
  EXPECT_EQ(c.engine.shutdown_grace_ms, 0);
  // Settings not in the file keep their defaults.
  EXPECT_EQ(c.redis_url, "redis://127.0.0.1:56379");
  EXPECT_EQ(c.api.threads, 16);
  EXPECT_EQ(c.engine.poll_ms, 1000);
}

TEST_F(ConfigTest, EnvironmentOverridesYaml) {
  std::string path = Write("engine:\n  lease_ms: 5000\n  workers: 4\napi:\n  host: 10.0.0.1\n");
  Config c = MustLoad(path, {{"WF_ENGINE_LEASE_MS", "7000"},
                             {"WF_API_HOST", "192.168.1.1"},
                             {"WF_REDIS_URL", "redis://r:1/2"},
                             {"WF_DATABASE_POOL", "12"},
                             {"UNRELATED", "x"}});
  EXPECT_EQ(c.engine.lease_ms, 7000);
  EXPECT_EQ(c.engine.workers, 4);
  EXPECT_EQ(c.api.host, "192.168.1.1");
  EXPECT_EQ(c.redis_url, "redis://r:1/2");
  EXPECT_EQ(c.database_pool, 12);
}

TEST_F(ConfigTest, EnvironmentWithoutFile) {
  Config c = MustLoad("", {{"WF_ENGINE_MAX_CLAIMS", "3"}, {"WF_LOG_LEVEL", "warn"}});
  EXPECT_EQ(c.engine.max_claims, 3);
  EXPECT_EQ(c.log_level, "warn");
}

TEST_F(ConfigTest, RejectsUnknownKeyNamingIt) {
  std::string msg = LoadError(Write("engine:\n  lease_ms: 5000\n  leese_ms: 6000\n"));
  EXPECT_NE(msg.find("engine.leese_ms"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown"), std::string::npos) << msg;

  msg = LoadError(Write("colour: blue\n"));
  EXPECT_NE(msg.find("colour"), std::string::npos) << msg;
}

TEST_F(ConfigTest, RejectsUnknownKeyWithEmptyValue) {
  std::string msg = LoadError(Write("engine:\n  lease_ms: 5000\n  bogus_setting:\n"));
  EXPECT_NE(msg.find("engine.bogus_setting"), std::string::npos) << msg;
}

TEST_F(ConfigTest, RejectsNonIntegerNamingTheKey) {
  for (const char* value : {"abc", "12abc", "1.5", "\"\""}) {
    std::string msg = LoadError(Write(std::string("api:\n  port: ") + value + "\n"));
    EXPECT_NE(msg.find("api.port"), std::string::npos) << value << ": " << msg;
    EXPECT_NE(msg.find("expected an integer"), std::string::npos) << value << ": " << msg;
  }
}

TEST_F(ConfigTest, RejectsOutOfRangeNamingTheKey) {
  std::string msg = LoadError(Write("api:\n  port: 70000\n"));
  EXPECT_NE(msg.find("api.port"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;

  msg = LoadError(Write("engine:\n  lease_ms: 999\n"));
  EXPECT_NE(msg.find("engine.lease_ms"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1000, 3600000]"), std::string::npos) << msg;

  msg = LoadError(Write("engine:\n  workers: 0\n"));
  EXPECT_NE(msg.find("engine.workers"), std::string::npos) << msg;

  // Bounds themselves are accepted.
  Config c = MustLoad(Write("api:\n  port: 65535\nengine:\n  lease_ms: 1000\n  workers: 1\n"));
  EXPECT_EQ(c.api.port, 65535);
  EXPECT_EQ(c.engine.lease_ms, 1000);
  EXPECT_EQ(c.engine.workers, 1);
}

TEST_F(ConfigTest, RejectsHugeNumbers) {
  std::string msg = LoadError(Write("api:\n  max_body_bytes: 99999999999999999999999\n"));
  EXPECT_NE(msg.find("api.max_body_bytes"), std::string::npos) << msg;
}

TEST_F(ConfigTest, RejectsBadEnvironmentValueNamingTheVariable) {
  std::string msg = LoadError("", {{"WF_API_PORT", "0"}});
  EXPECT_NE(msg.find("WF_API_PORT"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;

  msg = LoadError("", {{"WF_ENGINE_WORKERS", "many"}});
  EXPECT_NE(msg.find("WF_ENGINE_WORKERS"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected an integer"), std::string::npos) << msg;
}

TEST_F(ConfigTest, EnvironmentDoesNotHideBadYamlKeys) {
  std::string path = Write("api:\n  prot: 1\n");
  std::string msg = LoadError(path, {{"WF_API_PORT", "9000"}});
  EXPECT_NE(msg.find("api.prot"), std::string::npos) << msg;
}

TEST_F(ConfigTest, RejectsMalformedYaml) {
  std::string path = Write("engine:\n  lease_ms: [1, 2\n");
  std::string msg = LoadError(path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;

  msg = LoadError(Write("api: {port: 1\n"));
  EXPECT_FALSE(msg.empty());
}

TEST_F(ConfigTest, RejectsNonMappingDocument) {
  std::string msg = LoadError(Write("- a\n- b\n"));
  EXPECT_NE(msg.find("expected a mapping"), std::string::npos) << msg;
  msg = LoadError(Write("api: 5\n"));
  EXPECT_NE(msg.find("api"), std::string::npos) << msg;
}

TEST_F(ConfigTest, RejectsListValue) {
  std::string msg = LoadError(Write("api:\n  host: [a, b]\n"));
  EXPECT_NE(msg.find("api.host"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected a scalar"), std::string::npos) << msg;
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  std::string path = (dir_ / "does-not-exist.yaml").string();
  std::string msg = LoadError(path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST_F(ConfigTest, ConfigKeysDescribeEverySetting) {
  auto keys = ConfigKeys();
  ASSERT_FALSE(keys.empty());
  std::map<std::string, ConfigKey> by_key;
  for (const auto& k : keys) {
    EXPECT_FALSE(k.help.empty()) << k.key;
    by_key[k.key] = k;
  }
  EXPECT_EQ(by_key.size(), keys.size());
  ASSERT_TRUE(by_key.count("engine.lease_ms"));
  EXPECT_EQ(by_key["engine.lease_ms"].env, "WF_ENGINE_LEASE_MS");
  EXPECT_EQ(by_key["engine.lease_ms"].default_value, "30000");
  ASSERT_TRUE(by_key.count("api.port"));
  EXPECT_EQ(by_key["api.port"].env, "WF_API_PORT");
  EXPECT_EQ(by_key["api.port"].default_value, "8470");
  ASSERT_TRUE(by_key.count("database_url"));
  EXPECT_EQ(by_key["database_url"].env, "WF_DATABASE_URL");

  // Every documented environment variable is honoured.
  const std::map<std::string, std::string> kSamples = {
      {"WF_LOGGING_SYSLOG_URL", "udp://127.0.0.1:514"}};  // checked settings with no default
  for (const auto& k : keys) {
    std::string value = k.default_value.empty() ? "x" : k.default_value;
    if (kSamples.count(k.env)) value = kSamples.at(k.env);
    auto r = LoadConfig("", {{k.env, value}});
    EXPECT_TRUE(r.ok()) << k.env << ": " << r.status().ToString();
  }
}

TEST_F(ConfigTest, ProcessEnvironmentKeepsOnlyWfVariables) {
  ASSERT_EQ(::setenv("WF_UNIT_TEST_SETTING", "on", 1), 0);
  ASSERT_EQ(::setenv("NOT_WF_UNIT_TEST_SETTING", "off", 1), 0);
  auto env = ProcessEnvironment();
  ::unsetenv("WF_UNIT_TEST_SETTING");
  ::unsetenv("NOT_WF_UNIT_TEST_SETTING");
  ASSERT_TRUE(env.count("WF_UNIT_TEST_SETTING"));
  EXPECT_EQ(env["WF_UNIT_TEST_SETTING"], "on");
  EXPECT_FALSE(env.count("NOT_WF_UNIT_TEST_SETTING"));
  for (const auto& [name, _] : env) EXPECT_EQ(name.rfind("WF_", 0), 0u) << name;
}

TEST_F(ConfigTest, LoggingSection) {
  Config d = MustLoad("");
  EXPECT_EQ(d.logging.syslog_url, "");
  EXPECT_EQ(d.logging.syslog_queue, 10000);
  EXPECT_EQ(d.logging.syslog_facility, "user");
  EXPECT_TRUE(d.logging.redact_patterns.empty());

  Config c =
      MustLoad(Write("logging:\n  syslog_url: tcp://127.0.0.1:514\n  syslog_queue: 50\n"
                     "  syslog_facility: local3\n  redact_patterns:\n"
                     "    - 'ssn=(\\d+)'\n    - 'card [0-9]{16}'\n"));
  EXPECT_EQ(c.logging.syslog_url, "tcp://127.0.0.1:514");
  EXPECT_EQ(c.logging.syslog_queue, 50);
  EXPECT_EQ(c.logging.syslog_facility, "local3");
  EXPECT_EQ(c.logging.redact_patterns, (std::vector<std::string>{"ssn=(\\d+)", "card [0-9]{16}"}));

  Config e = MustLoad("", {{"WF_LOGGING_SYSLOG_URL", "udp://[::1]:5514"},
                           {"WF_LOGGING_SYSLOG_SEND_TIMEOUT_MS", "250"},
                           {"WF_LOGGING_REDACT_PATTERNS", "[\"a+b\", \"c\"]"}});
  EXPECT_EQ(e.logging.syslog_url, "udp://[::1]:5514");
  EXPECT_EQ(e.logging.syslog_send_timeout_ms, 250);
  EXPECT_EQ(e.logging.redact_patterns, (std::vector<std::string>{"a+b", "c"}));
  // Not a JSON array: one pattern.
  Config one = MustLoad("", {{"WF_LOGGING_REDACT_PATTERNS", "[0-9]{4}"}});
  EXPECT_EQ(one.logging.redact_patterns, (std::vector<std::string>{"[0-9]{4}"}));
}

TEST_F(ConfigTest, LoggingErrorsNameTheKey) {
  std::string msg = LoadError("", {{"WF_LOGGING_SYSLOG_URL", "http://x:1"}});
  EXPECT_NE(msg.find("WF_LOGGING_SYSLOG_URL"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tcp://host:port"), std::string::npos) << msg;
  msg = LoadError(Write("logging:\n  syslog_url: tcp://127.0.0.1\n"));
  EXPECT_NE(msg.find("logging.syslog_url"), std::string::npos) << msg;
  EXPECT_NE(msg.find("port"), std::string::npos) << msg;
  msg = LoadError(Write("logging:\n  syslog_facility: local9\n"));
  EXPECT_NE(msg.find("logging.syslog_facility"), std::string::npos) << msg;
  msg = LoadError(Write("logging:\n  redact_patterns: ['ok', '(unclosed']\n"));
  EXPECT_NE(msg.find("logging.redact_patterns[1]"), std::string::npos) << msg;
  msg = LoadError(Write("logging:\n  syslog_queue: 0\n"));
  EXPECT_NE(msg.find("logging.syslog_queue"), std::string::npos) << msg;
  msg = LoadError(Write("logging:\n  redact_pattern: ['x']\n"));
  EXPECT_NE(msg.find("logging.redact_pattern"), std::string::npos) << msg;
}

}  // namespace
}  // namespace wf
