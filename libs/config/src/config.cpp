#include "wf/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <climits>
#include <functional>
#include <vector>

extern char** environ;

namespace wf {
namespace {

struct Field {
  const char* key;
  const char* help;
  std::function<std::string(const Config&)> get;
  std::function<Status(Config&, const std::string&)> set;
};

Status SetInt(int* out, const std::string& key, const std::string& text, int min, int max) {
  try {
    size_t used = 0;
    long v = std::stol(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    if (v < min || v > max) {
      return Status::Invalid(key + ": " + text + " is out of range [" + std::to_string(min) + ", " +
                             std::to_string(max) + "]");
    }
    *out = static_cast<int>(v);
    return Status::Ok();
  } catch (const std::exception&) {
    return Status::Invalid(key + ": expected an integer, got '" + text + "'");
  }
}

Status SetInt64(int64_t* out, const std::string& key, const std::string& text, int64_t min,
                int64_t max) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    if (v < min || v > max) {
      return Status::Invalid(key + ": " + text + " is out of range [" + std::to_string(min) + ", " +
                             std::to_string(max) + "]");
    }
    *out = static_cast<int64_t>(v);
    return Status::Ok();
  } catch (const std::exception&) {
    return Status::Invalid(key + ": expected an integer, got '" + text + "'");
  }
}

#define WF_STR(name, member, help_text)                        \
  Field {                                                      \
    name, help_text, [](const Config& c) { return c.member; }, \
        [](Config& c, const std::string& v) {                  \
          c.member = v;                                        \
          return Status::Ok();                                 \
        }                                                      \
  }
#define WF_INT(name, member, min, max, help_text)                                            \
  Field {                                                                                    \
    name, help_text, [](const Config& c) { return std::to_string(c.member); },               \
        [](Config& c, const std::string& v) { return SetInt(&c.member, name, v, min, max); } \
  }
#define WF_INT64(name, member, min, max, help_text)                                            \
  Field {                                                                                      \
    name, help_text, [](const Config& c) { return std::to_string(c.member); },                 \
        [](Config& c, const std::string& v) { return SetInt64(&c.member, name, v, min, max); } \
  }

const std::vector<Field>& Fields() {
  static const std::vector<Field> kFields = {
      WF_STR("database_url", database_url, "PostgreSQL connection URL"),
      WF_INT("database_pool", database_pool, 1, 256, "connections in the API's pool"),
      WF_STR("redis_url", redis_url, "Redis URL (redis://host:port[/db])"),
      WF_STR("templates_dir", templates_dir, "folder of *.json workflow templates"),
      WF_STR("log_level", log_level, "trace, debug, info, warn or error"),
      WF_STR("log_syslog_url", log_syslog_url,
             "ship log lines with their ids to wf-syslog: tcp://host:port or udp://host:port "
             "(empty: stderr only)"),
      WF_STR("api.host", api.host, "address the API listens on"),
      WF_INT("api.port", api.port, 1, 65535, "port the API listens on"),
      WF_INT("api.threads", api.threads, 1, 1024, "HTTP worker threads"),
      WF_INT("api.max_body_bytes", api.max_body_bytes, 1024, INT_MAX, "largest request body"),
      WF_STR("engine.id", engine.id, "engine identity (default hostname-pid)"),
      WF_INT("engine.workers", engine.workers, 1, 1024, "task invocations at once"),
      WF_INT("engine.max_inflight", engine.max_inflight, 1, 1000000, "requests owned at once"),
      WF_INT("engine.claim_batch", engine.claim_batch, 1, 10000, "requests per claim"),
      WF_INT("engine.poll_ms", engine.poll_ms, 10, 600000, "claim poll interval"),
      WF_INT("engine.lease_ms", engine.lease_ms, 1000, 3600000, "request lease length"),
      WF_INT("engine.commit_batch", engine.commit_batch, 1, 100000, "writes per group commit"),
      WF_INT("engine.committers", engine.committers, 1, 64, "committing connections"),
      WF_INT("engine.shutdown_grace_ms", engine.shutdown_grace_ms, 0, 3600000,
             "how long SIGTERM waits for running tasks"),
      WF_INT("engine.state_retention_s", engine.state_retention_s, 1, INT_MAX,
             "how long task variables are kept in Redis after their request ends"),
      WF_INT("engine.max_claims", engine.max_claims, 1, 1000,
             "times a request may be taken over after an engine died before it is failed"),
      WF_STR("syslog.dir", syslog.dir, "wf-syslog: folder of the log store"),
      WF_STR("syslog.bind", syslog.bind, "wf-syslog: IPv4 address of the syslog and HTTP ports"),
      WF_INT("syslog.udp_port", syslog.udp_port, 0, 65535, "wf-syslog: UDP port (0: any free)"),
      WF_INT("syslog.tcp_port", syslog.tcp_port, 0, 65535, "wf-syslog: TCP port (0: any free)"),
      WF_INT("syslog.http_port", syslog.http_port, 0, 65535,
             "wf-syslog: HTTP read API port (0: any free)"),
      WF_INT("syslog.http_threads", syslog.http_threads, 1, 256, "wf-syslog: HTTP worker threads"),
      WF_INT("syslog.max_frame_bytes", syslog.max_frame_bytes, 480, 16 << 20,
             "wf-syslog: largest datagram or TCP frame"),
      WF_INT("syslog.max_field_bytes", syslog.max_field_bytes, 16, 255,
             "wf-syslog: longest HOSTNAME, APP-NAME, PROCID, MSGID, SD name"),
      WF_INT("syslog.max_connections", syslog.max_connections, 1, 60000,
             "wf-syslog: TCP connections at once"),
      WF_INT("syslog.idle_timeout_s", syslog.idle_timeout_s, 0, 86400 * 7,
             "wf-syslog: seconds a TCP connection may stay silent before it is closed (0: never)"),
      WF_STR("syslog.forward_url", syslog.forward_url,
             "wf-syslog: upstream syslog, tcp://host:port or udp://host:port (empty: off)"),
      WF_INT("syslog.forward_queue", syslog.forward_queue, 1, 10000000,
             "wf-syslog: messages queued for the upstream before new ones are dropped"),
      WF_INT("syslog.retention_days", syslog.retention_days, 0, 36500,
             "wf-syslog: days sealed request logs are kept (0: forever)"),
      WF_INT64("syslog.retention_max_bytes", syslog.retention_max_bytes, 0, INT64_MAX,
               "wf-syslog: size cap of the request logs, oldest sealed deleted first (0: none)"),
      WF_INT("syslog.retention_interval_s", syslog.retention_interval_s, 1, 86400 * 7,
             "wf-syslog: seconds between retention runs"),
      WF_INT("syslog.follow_timeout_s", syslog.follow_timeout_s, 1, 86400,
             "wf-syslog: longest follow=1 log stream"),
  };
  return kFields;
}

// Stands for a YAML key given without a value.
const std::string kNull("\0null", 5);

std::string EnvName(const std::string& key) {
  std::string out = "WF_";
  for (char c : key) out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(c)));
  return out;
}

// Flattens a YAML mapping into "a.b" keys; reports non-scalar leaves.
Status Flatten(const YAML::Node& node, const std::string& prefix,
               std::map<std::string, std::string>* out) {
  if (!node.IsMap())
    return Status::Invalid((prefix.empty() ? "config" : prefix) + ": expected a mapping");
  for (const auto& kv : node) {
    std::string key =
        prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
    if (kv.second.IsMap()) {
      Status s = Flatten(kv.second, key, out);
      if (!s.ok()) return s;
    } else if (kv.second.IsScalar()) {
      (*out)[key] = kv.second.Scalar();
    } else if (kv.second.IsNull()) {
      (*out)[key] = kNull;  // no value: keeps the default, but the key is still checked
    } else {
      return Status::Invalid(key + ": expected a scalar value");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Config> LoadConfig(const std::string& path, const std::map<std::string, std::string>& env) {
  Config config;
  std::map<std::string, std::string> values;
  if (!path.empty()) {
    try {
      YAML::Node root = YAML::LoadFile(path);
      if (!root.IsNull()) {
        Status s = Flatten(root, "", &values);
        if (!s.ok()) return Status::Invalid(path + ": " + s.message());
      }
    } catch (const YAML::Exception& e) {
      return Status::Invalid(path + ": " + e.what());
    }
  }
  for (const auto& [key, value] : values) {
    bool known = false;
    for (const auto& f : Fields()) known = known || key == f.key;
    if (!known) return Status::Invalid(path + ": unknown setting '" + key + "'");
  }
  for (const auto& f : Fields()) {
    auto env_it = env.find(EnvName(f.key));
    if (env_it != env.end()) {
      Status s = f.set(config, env_it->second);
      if (!s.ok()) return Status::Invalid(EnvName(f.key) + ": " + s.message());
      continue;
    }
    auto it = values.find(f.key);
    if (it != values.end() && it->second != kNull) {
      Status s = f.set(config, it->second);
      if (!s.ok()) return Status::Invalid(path + ": " + s.message());
    }
  }
  return config;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.compare(0, 3, "WF_") == 0) {
      out[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  return out;
}

std::vector<ConfigKey> ConfigKeys() {
  Config defaults;
  std::vector<ConfigKey> out;
  for (const auto& f : Fields()) {
    out.push_back(ConfigKey{f.key, EnvName(f.key), f.get(defaults), f.help});
  }
  return out;
}

}  // namespace wf
