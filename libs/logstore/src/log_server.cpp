#include "wf/log_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>

namespace wf {
namespace {

using json = nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr const char* kJsonLines = "application/x-ndjson";
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr size_t kMaxLimit = 1000000;

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", kJson);
}

void Error(httplib::Response& res, int status, const std::string& code, const std::string& message,
           const std::string& path = {}) {
  json e = {{"code", code}, {"message", message}};
  if (!path.empty()) e["path"] = path;
  Reply(res, status, {{"error", std::move(e)}});
}

void StatusError(httplib::Response& res, const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      Error(res, 400, "invalid_argument", s.message());
      break;
    case StatusCode::kNotFound:
      Error(res, 404, "not_found", s.message());
      break;
    default:
      spdlog::error("syslog http: {}", s.ToString());
      Error(res, 500, "internal", "internal error");
  }
}

struct ReadParams {
  LogQuery query;
  bool text = false;
  bool follow = false;
};

// Parses the query string; false (with the 400 answer set) on a bad value.
bool ParseReadParams(const httplib::Request& req, httplib::Response& res, ReadParams* out) {
  auto bad = [&](const std::string& name, const std::string& why) {
    Error(res, 400, "invalid_argument", name + ": " + why, "query." + name);
    return false;
  };
  if (req.has_param("task_id")) {
    out->query.task_id = req.get_param_value("task_id");
    if (out->query.task_id.empty() || out->query.task_id.size() > 255) {
      return bad("task_id", "expected 1 to 255 characters");
    }
  }
  if (req.has_param("since")) {
    std::string v = req.get_param_value("since");
    // An unencoded '+' of a UTC offset arrives as a space.
    std::replace(v.begin(), v.end(), ' ', '+');
    out->query.since_micros = ParseRfc3339Micros(v);
    if (!out->query.since_micros) {
      return bad("since", "'" + v + "' is not an RFC 3339 time (2024-05-01T10:00:00Z)");
    }
  }
  if (req.has_param("level")) {
    const std::string v = req.get_param_value("level");
    out->query.max_severity = ParseSeverity(v);
    if (!out->query.max_severity) {
      return bad("level", "'" + v +
                              "' is not a severity (emerg, alert, crit, err, warning, notice, "
                              "info, debug or 0..7)");
    }
  }
  if (req.has_param("limit")) {
    const std::string v = req.get_param_value("limit");
    if (v.empty() || v.size() > 7 || v.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(v) < 1 || std::stoul(v) > kMaxLimit) {
      return bad("limit", "'" + v + "' is not an integer in 1.." + std::to_string(kMaxLimit));
    }
    out->query.limit = std::stoul(v);
  }
  if (req.has_param("format")) {
    const std::string v = req.get_param_value("format");
    if (v != "json" && v != "text") return bad("format", "expected json or text, got '" + v + "'");
    out->text = v == "text";
  }
  if (req.has_param("follow")) {
    const std::string v = req.get_param_value("follow");
    if (v != "0" && v != "1" && v != "true" && v != "false") {
      return bad("follow", "expected 0 or 1, got '" + v + "'");
    }
    out->follow = v == "1" || v == "true";
  }
  return true;
}

std::string Render(const LogRecord& r, bool text) {
  if (text) return r.ToText() + "\n";
  return r.ToJson().dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool CheckId(httplib::Response& res, const std::string& id, const std::string& what) {
  if (IsValidLogId(id)) return true;
  Error(res, 400, "invalid_id",
        what + " must be 1 to 128 characters of A-Z a-z 0-9 _ - . and not start with '.'",
        "path." + what);
  return false;
}

}  // namespace

LogServer::LogServer(LogServerOptions options, LogStore& store, LogMetrics& metrics)
    : options_(std::move(options)), store_(store), metrics_(metrics) {
  Routes();
}

bool LogServer::Bind() {
  server_.new_task_queue = [n = options_.threads] {
    return new httplib::ThreadPool(static_cast<size_t>(n));
  };
  if (options_.port == 0) {
    port_ = server_.bind_to_any_port(options_.bind);
  } else {
    port_ = server_.bind_to_port(options_.bind, options_.port) ? options_.port : -1;
  }
  if (port_ <= 0) {
    spdlog::error("syslog http: cannot listen on {}:{}", options_.bind, options_.port);
    return false;
  }
  return true;
}

void LogServer::Serve() { server_.listen_after_bind(); }

void LogServer::Stop() {
  stopping_ = true;
  server_.stop();
}

void LogServer::Routes() {
  // The only body is the optional {"trace_id": ...} of a seal.
  server_.set_payload_max_length(64 * 1024);
  server_.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          spdlog::error("syslog http: {} {}: {}", req.method, req.path, e.what());
        }
        Error(res, 500, "internal", "internal error");
      });

  server_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      Error(res, 404, "not_found", "no such route");
    } else {
      Error(res, res.status, "http_error", "HTTP " + std::to_string(res.status));
    }
  });

  server_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, {{"status", "ok"}});
  });

  server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.Render(), "text/plain; version=0.0.4");
  });

  server_.Get(R"(/v1/requests/([^/]+)/logs/seal)",
              [this](const httplib::Request& req, httplib::Response& res) {
                const std::string id = req.matches[1];
                if (!CheckId(res, id, "request_id")) return;
                auto seal = store_.GetSeal(id);
                if (seal.ok()) return Reply(res, 200, seal->ToJson());
                if (seal.status().code() == StatusCode::kFailedPrecondition) {
                  return Reply(res, 409, {{"sealed", false}, {"request_id", id}});
                }
                StatusError(res, seal.status());
              });

  server_.Post(R"(/v1/logs/requests/([^/]+)/seal)", [this](const httplib::Request& req,
                                                           httplib::Response& res) {
    const std::string id = req.matches[1];
    if (!CheckId(res, id, "request_id")) return;
    std::string trace = req.get_param_value("trace_id");
    if (!req.body.empty()) {
      const json body = json::parse(req.body, nullptr, false);
      if (!body.is_object() || (body.contains("trace_id") && !body["trace_id"].is_string())) {
        return Error(res, 400, "invalid_argument",
                     "body must be a JSON object, optionally with a string trace_id", "body");
      }
      if (body.contains("trace_id")) trace = body["trace_id"].get<std::string>();
    }
    if (!trace.empty() && !CheckId(res, trace, "trace_id")) return;
    bool created = false;
    auto seal = store_.Seal(trace, id, &created);
    if (!seal.ok()) return StatusError(res, seal.status());
    if (created) metrics_.sealed.fetch_add(1, std::memory_order_relaxed);
    Reply(res, 200, seal->ToJson());
  });

  server_.Get(R"(/v1/traces/([^/]+)/logs)",
              [this](const httplib::Request& req, httplib::Response& res) {
                const std::string id = req.matches[1];
                if (!CheckId(res, id, "trace_id")) return;
                ReadParams p;
                if (!ParseReadParams(req, res, &p)) return;
                if (p.follow) {
                  return Error(res, 400, "invalid_argument",
                               "follow: only request logs can be followed", "query.follow");
                }
                auto records = store_.ReadTrace(id, p.query);
                if (!records.ok()) return StatusError(res, records.status());
                std::string body;
                for (const auto& r : *records) body += Render(r, p.text);
                res.set_content(body, p.text ? kText : kJsonLines);
              });

  server_.Get(
      R"(/v1/requests/([^/]+)/logs)", [this](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        if (!CheckId(res, id, "request_id")) return;
        ReadParams p;
        if (!ParseReadParams(req, res, &p)) return;
        if (!p.follow) {
          auto records = store_.ReadRequest(id, p.query);
          if (!records.ok()) return StatusError(res, records.status());
          std::string body;
          for (const auto& r : *records) body += Render(r, p.text);
          res.set_content(body, p.text ? kText : kJsonLines);
          return;
        }
        // follow: stream the lines as they are appended until the request is sealed, the
        // limit is reached, the timeout passes or the client goes away.
        struct FollowState {
          uint64_t offset = 0;
          size_t sent = 0;
        };
        auto state = std::make_shared<FollowState>();
        metrics_.follows.fetch_add(1, std::memory_order_relaxed);
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::seconds(options_.follow_timeout_s);
        res.set_chunked_content_provider(
            p.text ? kText : kJsonLines,
            [this, id, p, deadline, state](size_t, httplib::DataSink& sink) {
              const uint64_t seen = store_.version();
              const bool sealed = store_.IsSealed(id);
              auto records = store_.ReadFrom(id, &state->offset);
              if (records.ok()) {
                std::string chunk;
                for (const auto& r : *records) {
                  if (!p.query.Matches(r)) continue;
                  chunk += Render(r, p.text);
                  if (++state->sent == p.query.limit) break;
                }
                if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
                if (p.query.limit != 0 && state->sent >= p.query.limit) {
                  sink.done();
                  return true;
                }
              }
              const auto now = std::chrono::steady_clock::now();
              if (sealed || now >= deadline || stopping_) {
                sink.done();
                return true;
              }
              if (!sink.is_writable()) return false;
              store_.WaitForChange(seen, std::min(deadline, now + std::chrono::seconds(1)));
              return true;
            },
            [this](bool) { metrics_.follows.fetch_sub(1, std::memory_order_relaxed); });
      });
}

}  // namespace wf
