#include "wf/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <climits>
#include <functional>
#include <initializer_list>
#include <regex>
#include <vector>

#include "wf/core/json_path.h"
#include "wf/syslog_sink.h"

extern char** environ;

namespace wf {
namespace {

struct Field {
  const char* key;
  const char* help;
  std::function<std::string(const Config&)> get;
  std::function<Status(Config&, const std::string&)> set;
};

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

Status SetInt(int* out, const std::string& key, const std::string& text, int min, int max) {
  int64_t v = 0;
  Status s = SetInt64(&v, key, text, min, max);
  if (s.ok()) *out = static_cast<int>(v);
  return s;
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

// A list setting: a JSON array of strings, or one string taken as a one-element list
// (YAML sequences arrive here as JSON arrays).
Status SetList(std::vector<std::string>* out, const std::string& key, const std::string& text) {
  std::vector<std::string> list;
  json parsed = json::parse(text, nullptr, false);
  if (!text.empty() && text[0] == '[' && parsed.is_array()) {
    for (size_t i = 0; i < parsed.size(); ++i) {
      if (!parsed[i].is_string()) {
        return Status::Invalid(key + "[" + std::to_string(i) + "]: expected a string");
      }
      list.push_back(parsed[i].get<std::string>());
    }
  } else if (!text.empty()) {
    list.push_back(text);
  }
  *out = std::move(list);
  return Status::Ok();
}

Status SetPatterns(Config& c, const std::string& text) {
  const std::string key = "logging.redact_patterns";
  std::vector<std::string> list;
  Status s = SetList(&list, key, text);
  if (!s.ok()) return s;
  for (size_t i = 0; i < list.size(); ++i) {
    try {
      std::regex re(list[i]);
    } catch (const std::regex_error& e) {
      return Status::Invalid(key + "[" + std::to_string(i) + "]: invalid regex '" + list[i] +
                             "': " + e.what());
    }
    if (list[i].empty()) return Status::Invalid(key + "[" + std::to_string(i) + "]: empty");
  }
  c.logging.redact_patterns = std::move(list);
  return Status::Ok();
}

Status SetBool(bool* out, const std::string& key, const std::string& text) {
  if (text == "true" || text == "yes" || text == "1") {
    *out = true;
  } else if (text == "false" || text == "no" || text == "0") {
    *out = false;
  } else {
    return Status::Invalid(key + ": expected true or false, got '" + text + "'");
  }
  return Status::Ok();
}

Status SetChoice(std::string* out, const std::string& key, const std::string& text,
                 std::initializer_list<const char*> choices) {
  std::string list;
  for (const char* c : choices) {
    if (text == c) {
      *out = text;
      return Status::Ok();
    }
    list += list.empty() ? c : std::string(" or ") + c;
  }
  return Status::Invalid(key + ": expected " + list + ", got '" + text + "'");
}

#define WF_BOOL(name, member, help_text)                                            \
  Field {                                                                           \
    name, help_text, [](const Config& c) { return c.member ? "true" : "false"; },   \
        [](Config& c, const std::string& v) { return SetBool(&c.member, name, v); } \
  }

const std::vector<Field>& Fields() {
  static const std::vector<Field> kFields = {
      WF_STR("database_url", database_url, "PostgreSQL connection URL"),
      WF_INT("database_pool", database_pool, 1, 256, "connections in the API's pool"),
      WF_STR("redis_url", redis_url, "Redis URL (redis://host:port[/db])"),
      WF_STR("templates_dir", templates_dir, "folder of *.json workflow templates"),
      WF_STR("plugins_dir", plugins_dir, "folder of task-module plugins (*.so) to load at start"),
      WF_STR("secrets_file", secrets_file,
             "YAML file of name: value secrets for ${secrets.<name>} (WF_SECRET_<NAME> also)"),
      WF_STR("log_level", log_level, "trace, debug, info, warn or error"),
      WF_STR("api.host", api.host, "address the API listens on"),
      WF_INT("api.port", api.port, 1, 65535, "port the API listens on"),
      WF_INT("api.threads", api.threads, 1, 1024, "HTTP worker threads"),
      WF_INT("api.max_body_bytes", api.max_body_bytes, 1024, INT_MAX, "largest request body"),
      WF_INT("api.read_timeout_ms", api.read_timeout_ms, 100, 600000,
             "how long the API waits for each part of a request before closing the connection"),
      Field{"api.auth", "tokens (bearer tokens from api.tokens_file) or disabled",
            [](const Config& c) { return c.api.auth; },
            [](Config& c, const std::string& v) {
              return SetChoice(&c.api.auth, "api.auth", v, {"tokens", "disabled"});
            }},
      WF_STR("api.tokens_file", api.tokens_file, "YAML file of API tokens (name, role, sha256)"),
      WF_BOOL("api.metrics_public", api.metrics_public, "serve /metrics without a token"),
      WF_STR("api.logs_url", api.logs_url,
             "base URL of the log service's HTTP API that /v1/.../logs reads from"),
      WF_STR("callbacks.signing_key_file", callbacks.signing_key_file,
             "file holding the HMAC-SHA256 key that signs callbacks (empty: no callbacks)"),
      WF_INT("callbacks.max_attempts", callbacks.max_attempts, 1, 100,
             "delivery attempts before a callback is marked failed"),
      WF_INT("callbacks.retry_base_ms", callbacks.retry_base_ms, 10, 3600000,
             "delay before the first retry; doubles per attempt, at most 1 h"),
      WF_INT("callbacks.timeout_ms", callbacks.timeout_ms, 100, 600000,
             "timeout of one delivery attempt"),
      WF_INT("callbacks.concurrency", callbacks.concurrency, 1, 256,
             "deliveries at once per engine"),
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
      Field{"logging.syslog_url",
            "ship log lines to tcp://host:port or udp://host:port (empty: off)",
            [](const Config& c) { return c.logging.syslog_url; },
            [](Config& c, const std::string& v) {
              if (!v.empty()) {
                auto ep = ParseSyslogUrl(v);
                if (!ep.ok())
                  return Status::Invalid("logging.syslog_url: " + ep.status().message());
              }
              c.logging.syslog_url = v;
              return Status::Ok();
            }},
      WF_INT("logging.syslog_queue", logging.syslog_queue, 1, 10000000,
             "log lines waiting to be shipped, at most (more are dropped and counted)"),
      WF_INT("logging.syslog_max_message_bytes", logging.syslog_max_message_bytes, 480, 1 << 20,
             "largest shipped message; longer lines have their text cut"),
      Field{"logging.syslog_facility", "syslog facility: user, daemon, local0..local7 or 0..23",
            [](const Config& c) { return c.logging.syslog_facility; },
            [](Config& c, const std::string& v) {
              auto f = ParseSyslogFacility(v);
              if (!f.ok())
                return Status::Invalid("logging.syslog_facility: " + f.status().message());
              c.logging.syslog_facility = v;
              return Status::Ok();
            }},
      WF_INT("logging.syslog_send_timeout_ms", logging.syslog_send_timeout_ms, 10, 600000,
             "connect and write timeout of the log shipper"),
      Field{"logging.redact_patterns",
            "regexes masked in every log line (YAML list; env: JSON array or one pattern)",
            [](const Config& c) {
              return c.logging.redact_patterns.empty() ? std::string()
                                                       : json(c.logging.redact_patterns).dump();
            },
            SetPatterns},
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
    } else if (kv.second.IsSequence() && key == "logging.redact_patterns") {
      json list = json::array();
      for (size_t i = 0; i < kv.second.size(); ++i) {
        if (!kv.second[i].IsScalar()) {
          return Status::Invalid(key + "[" + std::to_string(i) + "]: expected a scalar value");
        }
        list.push_back(kv.second[i].Scalar());
      }
      (*out)[key] = list.dump();
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
