// Process configuration: a YAML file (optional) overlaid by WF_* environment variables.
//
// Every setting has a documented default, a YAML key ("engine.lease_ms") and an
// environment variable derived from it (WF_ENGINE_LEASE_MS). Unknown YAML keys, wrong
// types and out-of-range values are errors that name the key. Plain data; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wf/core/status.h"

namespace wf {

struct Config {
  std::string database_url = "postgresql://postgres@127.0.0.1:55432/wf";
  int database_pool = 8;
  std::string redis_url = "redis://127.0.0.1:56379";
  std::string templates_dir = "templates";
  std::string plugins_dir;   // task-module plugins (*.so) loaded at start; empty: none
  std::string secrets_file;  // name: value pairs for ${secrets.<name>} (wf-engine); empty: none
  std::string log_level = "info";

  struct Api {
    std::string host = "127.0.0.1";
    int port = 8470;
    int threads = 16;
    int max_body_bytes = 1 << 20;
    int read_timeout_ms = 10000;  // a client must send each part of its request within this
    // "tokens": bearer tokens from tokens_file (default deny); "disabled": no auth at all.
    std::string auth = "tokens";
    std::string tokens_file = "tokens.yaml";
    bool metrics_public = false;  // GET /metrics without a token
    std::string logs_url;         // the log service's HTTP API (wf-syslog); empty: none
  } api;

  // Signed POSTs to a request's callback_url when it ends (delivered by the engines).
  struct Callbacks {
    std::string signing_key_file;  // HMAC-SHA256 key; empty: callback_url is refused
    int max_attempts = 10;         // then the callback is marked failed
    int retry_base_ms = 1000;      // first retry delay; doubles per attempt (capped at 1 h)
    int timeout_ms = 10000;        // one delivery attempt, connect included
    int concurrency = 4;           // deliveries at once per engine
  } callbacks;

  struct Engine {
    std::string id;           // default: <hostname>-<pid>
    int workers = 8;          // task invocations running at once
    int max_inflight = 2000;  // requests owned at once
    int claim_batch = 64;     // requests claimed per query
    int poll_ms = 1000;       // claim poll when no notification arrives
    int lease_ms = 30000;     // lease length; renewed every lease_ms / 3
    int commit_batch = 512;   // task transitions per group commit
    int committers = 2;       // database connections that commit transitions
    int shutdown_grace_ms = 20000;
    int state_retention_s = 7 * 24 * 3600;  // task variables kept after the request ends
    int max_claims = 10;  // unclean claims before a request is quarantined as failed
  } engine;

  struct Logging {
    std::string syslog_url;  // tcp://host:port or udp://host:port; empty: no shipping
    int syslog_queue = 10000;
    int syslog_max_message_bytes = 8192;
    std::string syslog_facility = "user";
    int syslog_send_timeout_ms = 2000;
    // Regexes whose matches (or capture groups) are masked in every log line.
    std::vector<std::string> redact_patterns;
  } logging;

  // wf-syslog: the log service (docs/logging.md).
  struct Syslog {
    std::string dir = "syslog";  // log store: traces/<trace>/<request>.log, service/<app>.log
    std::string bind = "127.0.0.1";
    int udp_port = 5514;  // 0: pick a free port
    int tcp_port = 5514;
    int http_port = 8471;
    int http_threads = 8;
    int max_frame_bytes = 64 * 1024;  // one datagram or TCP frame
    int max_field_bytes = 255;        // HOSTNAME, APP-NAME, SD names...
    int max_connections = 256;        // TCP connections at once
    int idle_timeout_s = 300;         // silent TCP connections are closed; 0 = never
    std::string forward_url;          // tcp://host:port or udp://host:port; "" = off
    int forward_queue = 10000;        // messages waiting to be forwarded
    int retention_days = 30;          // sealed request logs older than this are deleted; 0 = keep
    int64_t retention_max_bytes = 0;  // cap on the traces store, oldest sealed first; 0 = none
    int retention_interval_s = 3600;
    int follow_timeout_s = 300;  // longest follow=1 stream
  } syslog;
};

// One documented setting, for `--help` output and docs.
struct ConfigKey {
  std::string key;
  std::string env;
  std::string default_value;
  std::string help;
};

// Loads `path` (empty: no file) and applies the environment `env` (usually the process
// environment, see ProcessEnvironment()).
Result<Config> LoadConfig(const std::string& path, const std::map<std::string, std::string>& env);
std::map<std::string, std::string> ProcessEnvironment();
std::vector<ConfigKey> ConfigKeys();

}  // namespace wf
