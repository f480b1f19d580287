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
  std::string log_level = "info";
  std::string log_syslog_url;  // ship log lines to wf-syslog: tcp://host:port or udp://host:port

  struct Api {
    std::string host = "127.0.0.1";
    int port = 8470;
    int threads = 16;
    int max_body_bytes = 1 << 20;
  } api;

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
