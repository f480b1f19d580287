#include "wf/api_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <unordered_map>

#include "wf/auth.h"
#include "wf/core/ids.h"
#include "wf/db.h"
#include "wf/http_client.h"
#include "wf/logging.h"
#include "wf/metrics.h"
#include "wf/openapi.h"
#include "wf/presence.h"
#include "wf/redis.h"
#include "wf/redis_task_state.h"
#include "wf/request_store.h"
#include "wf/request_view.h"
#include "wf/template_catalog.h"

namespace wf {
namespace {

const char* kJson = "application/json";
thread_local std::chrono::steady_clock::time_point request_start;
// Who sent the request being handled on this thread (set before routing).
thread_local Principal caller;
constexpr size_t kMaxJsonDepth = 64;     // request bodies; templates are files, not bodies
constexpr int kMaxTraceRequests = 1000;  // requests shown by GET /v1/traces/{trace_id}

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Stored values may hold bytes that are not UTF-8 (outputs of outside systems): they
  // are replaced rather than allowed to fail the answer.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), kJson);
}

void Error(httplib::Response& res, int status, const std::string& code, const std::string& message,
           const std::string& path = {}) {
  Reply(res, status, ErrorJson(code, message, path));
}

// Maps a store Status to an HTTP answer.
void StoreError(httplib::Response& res, const Status& s) {
  if (s.code() == StatusCode::kUnavailable) {
    Error(res, 503, "unavailable", "the database is unavailable; try again");
  } else {
    spdlog::error("api: {}", s.ToString());
    Error(res, 500, "internal", "internal error");
  }
}

// Reads a JSON body into `out`. Otherwise answers 415 (the Content-Type is not JSON) or
// 400 invalid_json and returns false.
bool ReadJsonBody(const httplib::Request& req, httplib::Response& res, json* out) {
  if (req.get_header_value("Content-Type").rfind(kJson, 0) != 0) {
    Error(res, 415, "unsupported_media_type", "Content-Type must be application/json");
    return false;
  }
  if (!IsValidUtf8(req.body)) {
    Error(res, 400, "invalid_json", "the body is not valid UTF-8");
    return false;
  }
  if (JsonNestingDepth(req.body, kMaxJsonDepth) > kMaxJsonDepth) {
    Error(res, 400, "too_deep",
          "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return false;
  }
  try {
    *out = json::parse(req.body);
  } catch (const json::exception& e) {
    Error(res, 400, "invalid_json", std::string("malformed JSON: ") + e.what());
    return false;
  }
  return true;
}

const std::set<std::string> kSubmitFields = {"template", "data", "trace_id", "idempotency_key",
                                             "callback_url"};
constexpr size_t kMaxCallbackUrl = 2048;
const std::set<std::string> kRerunFields = {"from", "data"};
const std::regex kTimestamp(
    R"(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)");

std::string ToHex(const std::string& text) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

// "" when `hex` is not an even run of hex digits.
std::string FromHex(const std::string& hex) {
  if (hex.size() % 2 != 0 || hex.size() > 256) return "";
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = std::isxdigit(static_cast<unsigned char>(hex[i]))
                 ? std::stoi(hex.substr(i, 1), nullptr, 16)
                 : -1;
    int lo = std::isxdigit(static_cast<unsigned char>(hex[i + 1]))
                 ? std::stoi(hex.substr(i + 1, 1), nullptr, 16)
                 : -1;
    if (hi < 0 || lo < 0) return "";
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}
bool IsHttpUrl(const std::string& url) {
  static const std::regex kUrl(R"(https?://[^\s/?#@]+(/[^\s]*)?)", std::regex::icase);
  return std::regex_match(url, kUrl);
}

const std::set<std::string> kStatuses = {"pending", "running", "succeeded", "failed", "cancelled"};

}  // namespace

class ApiServer::Impl {
 public:
  Impl(const Config& config, Database& db, Redis& redis, TemplateCatalog& catalog,
       TokenFile* tokens)
      : config_(config), db_(db), redis_(redis), store_(db), catalog_(catalog), tokens_(tokens) {
    const int threads = config.api.threads;
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server_.set_payload_max_length(config.api.max_body_bytes);
    server_.set_read_timeout(config.api.read_timeout_ms / 1000,
                             (config.api.read_timeout_ms % 1000) * 1000);
    server_.set_write_timeout(10, 0);
    server_.set_keep_alive_max_count(1000);
    // Small JSON answers must not wait for the client's delayed ACK (Nagle): ~40 ms each.
    server_.set_tcp_nodelay(true);
    server_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      switch (res.status) {
        case 404:
          Error(res, 404, "not_found", "no such route");
          break;
        case 413:
          Error(res, 413, "payload_too_large", "request body is over the limit");
          break;
        default:
          Error(res, res.status, "http_error", "HTTP " + std::to_string(res.status));
      }
    });
    // Latency by route: stamped before routing, observed once the answer is written (the
    // same thread runs both).
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      request_start = std::chrono::steady_clock::now();
      return Authorize(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                 : httplib::Server::HandlerResponse::Handled;
    });
    // Counted just before the answer is written (not after, in the logger), so that a
    // client that reads /metrics right after an answer sees it counted.
    server_.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - request_start;
      http_metrics_.Observe(req.method, req.path, res.status, took.count());
    });
    server_.set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            spdlog::error("api: {} {}: {}", req.method, req.path, e.what());
          }
          Error(res, 500, "internal", "internal error");
        });
    Routes();
  }

  // Checks the caller's token against the route's role; answers 401/403 itself.
  bool Authorize(const httplib::Request& req, httplib::Response& res) {
    caller = Principal{};
    if (!tokens_) {
      caller.role = Role::kAdmin;
      return true;
    }
    const Role need = RequiredRole(req.method, req.path, config_.api.metrics_public);
    if (need == Role::kNone) return true;
    const std::string header = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    std::optional<Principal> who;
    if (header.size() > kBearer.size() && header.compare(0, kBearer.size(), kBearer) == 0) {
      who = tokens_->Authenticate(std::string_view(header).substr(kBearer.size()));
    }
    if (!who) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"wf\"");
      Error(res, 401, "unauthorized",
            header.empty() ? "an Authorization: Bearer <token> header is required"
                           : "the bearer token is not valid");
      return false;
    }
    caller = *who;
    if (who->role < need) {
      Error(res, 403, "forbidden",
            "token '" + who->name + "' has role " + RoleName(who->role) + "; " + req.method + " " +
                req.path + " needs " + RoleName(need));
      return false;
    }
    return true;
  }

  bool Bind() {
    // cpp-httplib listens with a backlog of 5: a burst of new connections (32 clients
    // connecting at once) overflowed it, and each dropped connection attempt came back
    // only after the kernel's 1 s SYN retry. The listening socket is kept so that its
    // backlog can be raised once it listens (listen() again updates it).
    server_.set_socket_options([this](socket_t sock) {
      httplib::default_socket_options(sock);
      listen_fd_ = sock;
    });
    if (!server_.bind_to_port(config_.api.host.c_str(), config_.api.port)) {
      spdlog::error("api: cannot listen on {}:{}", config_.api.host, config_.api.port);
      return false;
    }
    if (listen_fd_ >= 0 && ::listen(listen_fd_, SOMAXCONN) != 0) {
      spdlog::warn("api: cannot raise the listen backlog: {}", std::strerror(errno));
    }
    spdlog::info("api listening on http://{}:{}", config_.api.host, config_.api.port);
    return true;
  }
  void Serve() { server_.listen_after_bind(); }
  void Stop() { server_.stop(); }
  int port() const { return config_.api.port; }

 private:
  void Routes() {
    server_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      Reply(res, 200, {{"status", "ok"}});
    });
    server_.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      Status s = db_.Ping();
      if (s.ok()) return Reply(res, 200, {{"status", "ready"}});
      Reply(res, 503,
            {{"status", "unavailable"},
             {"error", {{"code", "unavailable"}, {"message", s.message()}}}});
    });
    server_.Post("/v1/requests",
                 [this](const httplib::Request& req, httplib::Response& res) { Submit(req, res); });
    server_.Get("/v1/requests",
                [this](const httplib::Request& req, httplib::Response& res) { List(req, res); });
    server_.Post(R"(/v1/requests/([^/]+)/cancel)",
                 [this](const httplib::Request& req, httplib::Response& res) { Cancel(req, res); });
    server_.Post(R"(/v1/requests/([^/]+)/tasks/([^/]+)/signal)",
                 [this](const httplib::Request& req, httplib::Response& res) { Signal(req, res); });
    server_.Post(R"(/v1/requests/([^/]+)/rerun)",
                 [this](const httplib::Request& req, httplib::Response& res) { Rerun(req, res); });
    server_.Get(R"(/v1/requests/([^/]+)/logs)",
                [this](const httplib::Request& req, httplib::Response& res) { Logs(req, res); });
    server_.Get(R"(/v1/requests/([^/]+))",
                [this](const httplib::Request& req, httplib::Response& res) { Get(req, res); });
    server_.Get(R"(/v1/traces/([^/]+)/logs)",
                [this](const httplib::Request& req, httplib::Response& res) { Logs(req, res); });
    server_.Get(R"(/v1/traces/([^/]+))",
                [this](const httplib::Request& req, httplib::Response& res) { Trace(req, res); });
    server_.Get("/v1/templates", [this](const httplib::Request&, httplib::Response& res) {
      json list = json::array();
      for (const auto& t : catalog_.All()) list.push_back(TemplateJson(*t, false));
      json errors = json::array();
      for (const auto& e : catalog_.Errors()) {
        errors.push_back({{"file", e.file}, {"path", e.path}, {"message", e.message}});
      }
      Reply(res, 200, {{"templates", list}, {"errors", errors}});
    });
    server_.Post("/v1/templates/validate",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   ValidateTemplate(req, res);
                 });
    server_.Get(R"(/v1/templates/([^/]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  auto t = catalog_.Find(req.matches[1]);
                  if (!t)
                    return Error(res, 404, "not_found",
                                 "no template named '" + std::string(req.matches[1]) + "'");
                  Reply(res, 200, TemplateJson(*t, true));
                });
    // Known paths with a method they do not take: 405 rather than 404.
    const std::string known =
        R"(/(healthz|readyz|metrics|v1/(requests(/[^/]+(/(cancel|rerun|logs|tasks/[^/]+/signal))?)?|traces/[^/]+(/logs)?|templates(/[^/]+)?|services|openapi\.json)))";
    auto not_allowed = [](const httplib::Request& req, httplib::Response& res) {
      Error(res, 405, "method_not_allowed", req.method + " is not allowed on " + req.path);
    };
    server_.Put(known, not_allowed);
    server_.Patch(known, not_allowed);
    server_.Delete(known, not_allowed);
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::string text;
      http_metrics_.Render(&text);
      StoreGauges gauges;
      Status s = store_.ReadGauges(&gauges);
      if (s.ok()) {
        RenderStoreGauges(gauges, &text);
      } else {
        spdlog::warn("metrics: {}", s.ToString());
      }
      auto engines = ListPresence(redis_);
      if (engines.ok()) {
        RenderEngines(*engines, &text);
        RenderLogShipping(*engines, &text);
      }
      text +=
          "# HELP wf_metrics_sources_up Whether the database (db) and Redis (redis) answered.\n";
      text += "# TYPE wf_metrics_sources_up gauge\n";
      text += std::string("wf_metrics_sources_up{source=\"db\"} ") + (s.ok() ? "1" : "0") + "\n";
      text += std::string("wf_metrics_sources_up{source=\"redis\"} ") + (engines.ok() ? "1" : "0") +
              "\n";
      res.set_content(text, "text/plain; version=0.0.4");
    });
    server_.Get("/v1/services", [this](const httplib::Request&, httplib::Response& res) {
      auto list = ListPresence(redis_);
      if (!list.ok()) return Error(res, 503, "unavailable", list.status().message());
      Reply(res, 200, {{"services", *list}});
    });
    server_.Get("/v1/openapi.json", [](const httplib::Request&, httplib::Response& res) {
      Reply(res, 200, OpenApiJson());
    });
    // Registered last, so that only what no route above takes answers 405.
    server_.Get(known, not_allowed);
    server_.Post(known, not_allowed);
  }

  void Submit(const httplib::Request& req, httplib::Response& res) {
    json body;
    if (!ReadJsonBody(req, res, &body)) return;
    if (!body.is_object()) {
      return Error(res, 400, "invalid_request",
                   std::string("body must be a JSON object, not ") + JsonTypeName(body), "/");
    }
    for (auto it = body.begin(); it != body.end(); ++it) {
      if (!kSubmitFields.count(it.key())) {
        return Error(res, 400, "invalid_request",
                     "unknown field '" + it.key() +
                         "' (expected template, data, trace_id, idempotency_key, callback_url)",
                     JsonPathJoin("", it.key()));
      }
    }
    auto name = body.find("template");
    if (name == body.end())
      return Error(res, 400, "invalid_request", "template is required", "/template");
    if (!name->is_string()) {
      return Error(res, 400, "invalid_request", "template must be a string", "/template");
    }
    json data = json::object();
    if (auto d = body.find("data"); d != body.end()) {
      if (!d->is_object()) {
        return Error(res, 400, "invalid_request",
                     std::string("data must be an object, not ") + JsonTypeName(*d), "/data");
      }
      data = *d;
    }
    std::string trace_id;
    if (auto t = body.find("trace_id"); t != body.end()) {
      if (!t->is_string() || !IsUuid(t->get<std::string>())) {
        return Error(res, 400, "invalid_request", "trace_id must be a UUID", "/trace_id");
      }
      trace_id = t->get<std::string>();
      for (auto& c : trace_id) c = static_cast<char>(std::tolower(c));
    }
    auto tmpl = catalog_.Find(name->get<std::string>());
    if (!tmpl) {
      return Error(res, 404, "template_not_found",
                   "no template named '" + name->get<std::string>() + "'", "/template");
    }
    std::string key;
    if (auto k = body.find("idempotency_key"); k != body.end()) {
      if (!k->is_string() || k->get<std::string>().empty() || k->get<std::string>().size() > 255) {
        return Error(res, 400, "invalid_request",
                     "idempotency_key must be a string of 1 to 255 characters", "/idempotency_key");
      }
      key = k->get<std::string>();
    }
    std::string callback_url;
    if (auto u = body.find("callback_url"); u != body.end()) {
      if (!u->is_string() || !IsHttpUrl(u->get<std::string>()) ||
          u->get<std::string>().size() > kMaxCallbackUrl) {
        return Error(res, 400, "invalid_request",
                     "callback_url must be an http:// or https:// URL of at most 2048 characters",
                     "/callback_url");
      }
      if (config_.callbacks.signing_key_file.empty()) {
        return Error(res, 422, "callbacks_disabled",
                     "this server sends no callbacks (callbacks.signing_key_file is not set)",
                     "/callback_url");
      }
      callback_url = u->get<std::string>();
    }
    if (!DataMatchesInputs(*tmpl, data, res)) return;
    NewRequest r;
    r.id = NewUuid();
    r.trace_id = trace_id.empty() ? NewUuid() : trace_id;
    r.submitted_by = caller.name;
    r.callback_url = std::move(callback_url);
    r.template_name = tmpl->name;
    r.template_hash = tmpl->hash;
    r.data = std::move(data);
    if (!key.empty()) {
      json what = body;
      what.erase("idempotency_key");
      r.idempotency_key = key;
      r.request_hash = ContentHash(what);
    }
    InsertOutcome outcome;
    Status s = store_.EnsureTemplateVersion(tmpl->hash, tmpl->name, tmpl->source);
    if (s.ok()) s = store_.InsertRequest(r, &outcome);
    if (!s.ok()) return StoreError(res, s);
    if (!outcome.inserted) {
      // The same key again: the original request if the body is the same, else a conflict.
      if (!outcome.same_body) {
        return Error(res, 409, "idempotency_conflict",
                     "idempotency_key was already used for a different request (" +
                         outcome.existing_id + ")",
                     "/idempotency_key");
      }
      res.set_header("Location", "/v1/requests/" + outcome.existing_id);
      return Reply(res, 200,
                   {{"request_id", outcome.existing_id},
                    {"trace_id", outcome.existing_trace_id},
                    {"status", outcome.existing_status}});
    }
    {
      LogScope scope(r.trace_id, r.id);
      spdlog::info("request submitted (template {}{}{})", r.template_name,
                   caller.name.empty() ? "" : ", by ", caller.name);
    }
    res.set_header("Location", "/v1/requests/" + r.id);
    Reply(res, 202, {{"request_id", r.id}, {"trace_id", r.trace_id}, {"status", "pending"}});
  }

  // 422 with the JSON path when `data` does not match the template's inputs schema.
  bool DataMatchesInputs(const Template& tmpl, const json& data, httplib::Response& res) {
    if (!tmpl.inputs_schema) return true;
    Status valid = tmpl.inputs_schema->Validate(data);
    if (valid.ok()) return true;
    std::string path = valid.path() == "/" ? "/data" : "/data" + valid.path();
    Error(res, 422, "invalid_data",
          "data does not match the inputs of template '" + tmpl.name + "': " + valid.message(),
          path);
    return false;
  }

  // A request by the id in the path; answers 400/404/503 itself and returns nullopt.
  std::optional<RequestRow> RequestFromPath(const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    if (!IsUuid(id)) {
      Error(res, 400, "invalid_id", "request id must be a UUID", "/id");
      return std::nullopt;
    }
    auto row = store_.GetRequest(id);
    if (!row.ok()) {
      StoreError(res, row.status());
      return std::nullopt;
    }
    if (!*row) Error(res, 404, "not_found", "no request " + id);
    return *row;
  }

  // Pending: cancelled at once. Running: the owning engine cancels what has not started,
  // tells running invocations to stop, and lets all_done cleanup run. Idempotent.
  void Cancel(const httplib::Request& req, httplib::Response& res) {
    auto row = RequestFromPath(req, res);
    if (!row) return;
    auto status = store_.RequestCancel(row->id);
    if (!status.ok()) return StoreError(res, status.status());
    {
      LogScope scope(row->trace_id, row->id);
      spdlog::info("cancel asked for (status {}){}{}", *status, caller.name.empty() ? "" : " by ",
                   caller.name);
    }
    if (*status == "running") {
      return Reply(res, 202, {{"request_id", row->id}, {"status", "cancelling"}});
    }
    Reply(res, 200, {{"request_id", row->id}, {"status", *status}});
  }

  // Completes a waiting `signal` task with outputs or an error, once.
  void Signal(const httplib::Request& req, httplib::Response& res) {
    auto row = RequestFromPath(req, res);
    if (!row) return;
    const std::string task_id = req.matches[2];
    auto tmpl = TemplateByHash(row->template_hash);
    std::string base = task_id.substr(0, task_id.find('['));  // for_each instances: "id[i]"
    const TaskSpec* spec = tmpl ? tmpl->Find(base) : nullptr;
    if (!spec || spec->type != "signal" || (base != task_id) != spec->fan_out()) {
      return Error(res, 404, "not_found",
                   "request " + row->id + " has no signal task '" + task_id + "'", "/task_id");
    }
    if (row->status != "pending" && row->status != "running") {
      return Error(res, 409, "not_running", "request " + row->id + " is " + row->status);
    }
    json body;
    if (!ReadJsonBody(req, res, &body)) return;
    if (!body.is_object() || body.size() != 1 ||
        !(body.contains("outputs") ? body["outputs"].is_object()
                                   : body.contains("error") && body["error"].is_string() &&
                                         !body["error"].get<std::string>().empty())) {
      return Error(res, 400, "invalid_request",
                   "body must be {\"outputs\": {...}} or {\"error\": \"...\"}", "/");
    }
    auto inserted = store_.InsertSignal(row->id, task_id, body.value("outputs", json()),
                                        body.value("error", ""));
    if (!inserted.ok()) return StoreError(res, inserted.status());
    if (!*inserted) {
      return Error(res, 409, "already_signalled", "task '" + task_id + "' was already signalled");
    }
    {
      LogScope scope(row->trace_id, row->id, task_id);
      spdlog::info("signal accepted ({})", body.contains("error") ? "error" : "outputs");
    }
    Reply(res, 202, {{"request_id", row->id}, {"task_id", task_id}, {"status", "accepted"}});
  }

  // A new request with the same trace id and template version, linked to the original.
  // from "failed" keeps the outputs of the tasks that succeeded and runs the rest again.
  void Rerun(const httplib::Request& req, httplib::Response& res) {
    auto row = RequestFromPath(req, res);
    if (!row) return;
    json body = json::object();
    if (!req.body.empty() && !ReadJsonBody(req, res, &body)) return;
    if (!body.is_object())
      return Error(res, 400, "invalid_request", "body must be a JSON object", "/");
    for (auto it = body.begin(); it != body.end(); ++it) {
      if (!kRerunFields.count(it.key())) {
        return Error(res, 400, "invalid_request",
                     "unknown field '" + it.key() + "' (expected from, data)",
                     JsonPathJoin("", it.key()));
      }
    }
    std::string from = body.value("from", "start");
    if (!body.contains("from") || body["from"].is_string()) {
      if (from != "start" && from != "failed") {
        return Error(res, 400, "invalid_request", "from must be \"start\" or \"failed\"", "/from");
      }
    } else {
      return Error(res, 400, "invalid_request", "from must be \"start\" or \"failed\"", "/from");
    }
    if (row->status != "succeeded" && row->status != "failed" && row->status != "cancelled") {
      return Error(res, 409, "not_finished",
                   "request " + row->id + " is " + row->status + "; re-run it once it has ended");
    }
    json data = row->data;
    if (auto d = body.find("data"); d != body.end()) {
      if (!d->is_object())
        return Error(res, 400, "invalid_request", "data must be an object", "/data");
      data = *d;
    }
    auto tmpl = TemplateByHash(row->template_hash);
    if (!tmpl) return Error(res, 500, "internal", "the request's template version is not stored");
    if (!DataMatchesInputs(*tmpl, data, res)) return;
    NewRequest r;
    r.id = NewUuid();
    r.trace_id = row->trace_id;
    r.template_name = row->template_name;
    r.template_hash = row->template_hash;
    r.data = std::move(data);
    r.rerun_of = row->id;
    r.submitted_by = caller.name;
    r.callback_url = row->callback_url;
    Status s = store_.InsertRerun(r, from == "failed");
    if (!s.ok()) return StoreError(res, s);
    {
      LogScope scope(r.trace_id, r.id);
      spdlog::info("re-run of {} from {}", row->id, from);
    }
    res.set_header("Location", "/v1/requests/" + r.id);
    Reply(res, 202,
          {{"request_id", r.id},
           {"trace_id", r.trace_id},
           {"status", "pending"},
           {"rerun_of", row->id}});
  }

  // Checks a template document as the catalog would (same task modules), installing
  // nothing: 200 with its DAG, or 422 with every problem found.
  void ValidateTemplate(const httplib::Request& req, httplib::Response& res) {
    json doc;
    if (!ReadJsonBody(req, res, &doc)) return;
    std::vector<TemplateError> errors;
    auto parsed = ParseTemplate(doc, catalog_.checker(), &errors);
    if (parsed.ok()) {
      json out = TemplateJson(**parsed, false);
      out["valid"] = true;
      return Reply(res, 200, out);
    }
    json list = json::array();
    for (const auto& e : errors) {
      list.push_back({{"path", e.path.empty() ? "/" : e.path}, {"message", e.message}});
    }
    json out = ErrorJson("invalid_template",
                         "the template has " + std::to_string(list.size()) +
                             (list.size() == 1 ? " error" : " errors") + "; see errors",
                         list.empty() ? "" : list[0]["path"].get<std::string>());
    out["valid"] = false;
    out["errors"] = std::move(list);
    Reply(res, 422, out);
  }

  void Get(const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    if (!IsUuid(id)) return Error(res, 400, "invalid_id", "request id must be a UUID", "/id");
    auto row = store_.GetRequest(id);
    if (!row.ok()) return StoreError(res, row.status());
    if (!*row) return Error(res, 404, "not_found", "no request " + id);
    auto runs = store_.GetTaskRuns(id);
    if (!runs.ok()) return StoreError(res, runs.status());
    auto tmpl = TemplateByHash((*row)->template_hash);
    json out = RequestJson(**row, *runs, tmpl.get());
    // Task variables live in Redis; without Redis the request is still shown.
    auto state = LoadRequestState(redis_, id);
    for (auto& t : out["tasks"]) {
      if (!state.ok()) {
        t["state"] = nullptr;
        continue;
      }
      auto it = state->find(t["id"].get<std::string>());
      t["state"] = it == state->end() ? json::object() : it->second;
    }
    if (!state.ok()) out["state_error"] = state.status().message();
    if (!(*row)->callback_url.empty()) {
      auto cb = store_.GetCallback(id);
      if (!cb.ok()) return StoreError(res, cb.status());
      // Before the request ends there is no delivery yet: show the URL alone.
      out["callback"] = cb->is_null() ? json{{"url", (*row)->callback_url},
                                             {"status", "waiting"},
                                             {"attempts", 0},
                                             {"history", json::array()}}
                                      : *cb;
    }
    Reply(res, 200, RedactSecretInputs(std::move(out), (*row)->data, tmpl.get()));
  }

  // GET /v1/traces/{trace_id}: every request of a trace, oldest first, each with the
  // requests it started (children) and its re-runs.
  void Trace(const httplib::Request& req, httplib::Response& res) {
    const std::string trace = req.matches[1];
    if (!IsUuid(trace))
      return Error(res, 400, "invalid_id", "trace id must be a UUID", "/trace_id");
    RequestFilter f;
    f.trace_id = trace;
    f.limit = kMaxTraceRequests + 1;
    auto rows = store_.ListRequests(f);
    if (!rows.ok()) return StoreError(res, rows.status());
    if (rows->empty()) return Error(res, 404, "not_found", "no request with trace id " + trace);
    const bool truncated = static_cast<int>(rows->size()) > kMaxTraceRequests;
    if (truncated) rows->pop_back();
    std::reverse(rows->begin(), rows->end());  // oldest first
    json list = json::array();
    std::map<std::string, size_t> index;
    for (const auto& r : *rows) {
      index[r.id] = list.size();
      json item = RequestSummaryJson(r);
      item["children"] = json::array();
      item["reruns"] = json::array();
      list.push_back(std::move(item));
    }
    for (const auto& r : *rows) {
      if (auto p = index.find(r.parent_request_id); p != index.end()) {
        list[p->second]["children"].push_back(r.id);
      }
      if (auto o = index.find(r.rerun_of); o != index.end()) {
        list[o->second]["reruns"].push_back(r.id);
      }
    }
    Reply(res, 200, {{"trace_id", trace}, {"requests", list}, {"truncated", truncated}});
  }

  // GET /v1/requests/{id}/logs and /v1/traces/{trace_id}/logs: answered by the log service
  // (api.logs_url), which keeps one log per request grouped by trace. The query (task_id,
  // since, level, limit, format, follow) is passed on; with follow=1 the answer streams.
  void Logs(const httplib::Request& req, httplib::Response& res) {
    const bool by_trace = req.path.rfind("/v1/traces/", 0) == 0;
    const std::string id = req.matches[1];
    if (!IsUuid(id)) {
      return by_trace ? Error(res, 400, "invalid_id", "trace id must be a UUID", "/trace_id")
                      : Error(res, 400, "invalid_id", "request id must be a UUID", "/id");
    }
    if (by_trace) {
      RequestFilter f;
      f.trace_id = id;
      f.limit = 1;
      auto rows = store_.ListRequests(f);
      if (!rows.ok()) return StoreError(res, rows.status());
      if (rows->empty()) return Error(res, 404, "not_found", "no request with trace id " + id);
    } else {
      auto row = store_.GetRequest(id);
      if (!row.ok()) return StoreError(res, row.status());
      if (!*row) return Error(res, 404, "not_found", "no request " + id);
    }
    if (config_.api.logs_url.empty()) {
      return Error(res, 503, "logs_unavailable", "no log service is configured (api.logs_url)");
    }
    std::string target = req.path;
    char sep = '?';
    for (const auto& [k, v] : req.params) {
      target += sep;
      target += UrlEncode(k);
      target += '=';
      target += UrlEncode(v);
      sep = '&';
    }
    const bool follow = req.get_param_value("follow") == "1";
    const std::string base = config_.api.logs_url;
    if (!follow) {
      httplib::Client c(base);
      c.set_connection_timeout(2, 0);
      c.set_read_timeout(30, 0);
      auto up = c.Get(target);
      if (!up) {
        return Error(
            res, 503, "logs_unavailable",
            "the log service at " + base + " does not answer: " + httplib::to_string(up.error()));
      }
      res.status = up->status;
      res.set_content(up->body, up->get_header_value("Content-Type").empty()
                                    ? "application/x-ndjson"
                                    : up->get_header_value("Content-Type"));
      return;
    }
    // Streams the log service's answer as it comes, until it ends the stream (the request
    // was sealed or its follow timeout passed) or the client goes away.
    const std::string type = req.get_param_value("format") == "text" ? "text/plain; charset=utf-8"
                                                                     : "application/x-ndjson";
    res.set_chunked_content_provider(type, [base, target](size_t, httplib::DataSink& sink) {
      httplib::Client c(base);
      c.set_connection_timeout(2, 0);
      c.set_read_timeout(300, 0);
      auto up = c.Get(target, [&](const char* data, size_t n) { return sink.write(data, n); });
      if (!up) {
        const std::string line = json{{"error",
                                       {{"code", "logs_unavailable"},
                                        {"message", "the log service stopped answering: " +
                                                        httplib::to_string(up.error())}}}}
                                     .dump() +
                                 "\n";
        sink.write(line.data(), line.size());
      }
      sink.done();
      return true;
    });
  }

  void List(const httplib::Request& req, httplib::Response& res) {
    RequestFilter f;
    if (req.has_param("trace_id")) {
      f.trace_id = req.get_param_value("trace_id");
      if (!IsUuid(f.trace_id))
        return Error(res, 400, "invalid_query", "trace_id must be a UUID", "trace_id");
    }
    if (req.has_param("status")) {
      f.status = req.get_param_value("status");
      if (!kStatuses.count(f.status)) {
        return Error(res, 400, "invalid_query",
                     "status must be pending, running, succeeded, failed or cancelled", "status");
      }
    }
    if (req.has_param("template")) f.template_name = req.get_param_value("template");
    if (req.has_param("parent")) {
      f.parent_request_id = req.get_param_value("parent");
      if (!IsUuid(f.parent_request_id)) {
        return Error(res, 400, "invalid_query", "parent must be a request id (UUID)", "parent");
      }
    }
    for (auto [name, out] : {std::pair{"created_after", &f.created_after},
                             std::pair{"created_before", &f.created_before}}) {
      if (!req.has_param(name)) continue;
      *out = req.get_param_value(name);
      if (!std::regex_match(*out, kTimestamp)) {
        return Error(res, 400, "invalid_query",
                     std::string(name) + " must be an RFC 3339 time such as 2026-01-31T12:00:00Z",
                     name);
      }
    }
    if (req.has_param("cursor")) {
      // The cursor is the hex of "<created_at>|<id>" of the last request of a page.
      std::string raw = FromHex(req.get_param_value("cursor"));
      auto bar = raw.find('|');
      if (bar == std::string::npos || !IsUuid(raw.substr(bar + 1)) ||
          !std::regex_match(raw.substr(0, bar), kTimestamp)) {
        return Error(res, 400, "invalid_query", "cursor is not one this API gave out", "cursor");
      }
      f.after_created_at = raw.substr(0, bar);
      f.after_id = raw.substr(bar + 1);
    }
    if (req.has_param("limit")) {
      const std::string v = req.get_param_value("limit");
      if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(v) < 1 || std::stoi(v) > 1000) {
        return Error(res, 400, "invalid_query", "limit must be an integer from 1 to 1000", "limit");
      }
      f.limit = std::stoi(v);
    }
    auto rows = store_.ListRequests(f);
    if (!rows.ok()) return StoreError(res, rows.status());
    json list = json::array();
    for (const auto& r : *rows) list.push_back(RequestSummaryJson(r));
    json next = nullptr;  // a full page may have more behind it
    if (!rows->empty() && static_cast<int>(rows->size()) == f.limit) {
      next = ToHex(rows->back().created_at + "|" + rows->back().id);
    }
    Reply(res, 200, {{"requests", list}, {"next_cursor", next}});
  }

  // The exact template version a request runs with, parsed once per process.
  std::shared_ptr<const Template> TemplateByHash(const std::string& hash) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = by_hash_.find(hash);
      if (it != by_hash_.end()) return it->second;
    }
    auto body = store_.LoadTemplateBody(hash);
    if (!body.ok()) return nullptr;
    auto parsed = ParseTemplate(*body, nullptr);
    if (!parsed.ok()) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    by_hash_[hash] = *parsed;
    return *parsed;
  }

  const Config config_;
  Database& db_;
  Redis& redis_;
  RequestStore store_;
  TemplateCatalog& catalog_;
  TokenFile* tokens_;  // null when auth is disabled
  HttpMetrics http_metrics_;
  httplib::Server server_;
  int listen_fd_ = -1;  // the server's listening socket (owned by server_)
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Template>> by_hash_;
};

ApiServer::ApiServer(const Config& config, Database& db, Redis& redis, TemplateCatalog& catalog,
                     TokenFile* tokens)
    : impl_(std::make_unique<Impl>(config, db, redis, catalog, tokens)) {}
ApiServer::~ApiServer() = default;
bool ApiServer::Bind() { return impl_->Bind(); }
void ApiServer::Serve() { impl_->Serve(); }
void ApiServer::Stop() { impl_->Stop(); }
int ApiServer::port() const { return impl_->port(); }

}  // namespace wf
