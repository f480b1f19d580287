// http: one REST call.
//
// Params:
//   url                 required, http:// or https://
//   method              GET (default), POST, PUT, PATCH, DELETE or HEAD; case-insensitive
//   headers             object: header name -> string
//   query               object: name -> string, number or boolean; appended URL-encoded
//   body                any JSON value, sent as JSON (Content-Type: application/json unless
//                       a Content-Type header is given); a string is sent as is
//   expected_status     an int or an array of ints (100..599); default: any 2xx
//   outputs             object: output name -> JSON pointer into the JSON response body
//   connect_timeout_ms  default 5000
//   timeout_ms          default 30000 (the whole exchange)
//   idempotency_header  default "Idempotency-Key"; "" sends none
//
// Every call sends `<idempotency_header>: <request id>/<task id>` (stable across retries),
// X-Request-Id and X-Trace-Id; a header of the same name in `headers` takes precedence.
// Outputs: `status` (the HTTP status) plus the named outputs or, without an `outputs`
// param, the JSON response body as `body`. Connect errors, timeouts, 429 and 5xx fail the
// task as retryable (`retry_status` replaces that list of statuses); other unexpected
// statuses fail it for good.

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "builtin.h"
#include "http_common.h"
#include "params.h"
#include "wf/http_client.h"

namespace wf {
namespace {

using Clock = std::chrono::steady_clock;
using params::IsIntIn;
using params::MustBe;

constexpr size_t kErrorBodyBytes = 512;
constexpr std::string_view kOwnParams[] = {"expected_status", "outputs", "retry_status"};

struct HttpParams {
  HttpRequestParams request;
  std::vector<long> expected_status;              // empty: any 2xx
  std::optional<std::vector<long>> retry_status;  // retryable statuses; default 429 and 5xx
  std::optional<std::vector<std::pair<std::string, std::string>>> outputs;  // name, pointer
};

// Checks the params. At load time (allow_expressions) a `${...}` string passes any type
// check; at run time expressions are resolved and every value must have its final type.
// `key` (when present): an HTTP status or a non-empty array of them.
template <typename IsExpr>
Status CheckStatusList(const json& params, const char* key, const std::string& path,
                       const IsExpr& expr) {
  auto it = params.find(key);
  if (it == params.end() || expr(*it)) return Status::Ok();
  std::string spath = JsonPathJoin(path, key);
  const char* kWhat = "an HTTP status (an integer in 100..599)";
  if (it->is_array()) {
    if (it->empty()) return Status::Invalid("must not be empty", spath);
    for (size_t i = 0; i < it->size(); ++i) {
      const json& v = (*it)[i];
      if (!expr(v) && !IsIntIn(v, 100, 599)) {
        return Status::Invalid(MustBe(kWhat, v), JsonPathJoin(spath, i));
      }
    }
  } else if (!IsIntIn(*it, 100, 599)) {
    return Status::Invalid(
        MustBe("an HTTP status (an integer in 100..599) or an array of them", *it), spath);
  }
  return Status::Ok();
}

Status CheckParams(const json& params, const std::string& path, bool allow_expressions) {
  auto expr = [&](const json& v) { return allow_expressions && IsExpression(v); };
  if (!params.is_object()) return Status::Invalid(MustBe("an object", params), path);
  for (const auto& [key, value] : params.items()) {
    if (std::find(std::begin(kHttpRequestParams), std::end(kHttpRequestParams), key) ==
            std::end(kHttpRequestParams) &&
        std::find(std::begin(kOwnParams), std::end(kOwnParams), key) == std::end(kOwnParams)) {
      return Status::Invalid("unknown param", JsonPathJoin(path, key));
    }
  }
  if (Status s = CheckHttpRequestParams(params, path, allow_expressions); !s.ok()) return s;

  for (const char* key : {"expected_status", "retry_status"}) {
    if (Status st = CheckStatusList(params, key, path, expr); !st.ok()) return st;
  }

  if (auto it = params.find("outputs"); it != params.end() && !expr(*it)) {
    std::string opath = JsonPathJoin(path, "outputs");
    if (!it->is_object()) return Status::Invalid(MustBe("an object", *it), opath);
    for (const auto& [name, value] : it->items()) {
      std::string vpath = JsonPathJoin(opath, name);
      if (name == "status") {
        return Status::Invalid("'status' is reserved for the HTTP status", vpath);
      }
      if (expr(value)) continue;
      if (!value.is_string()) {
        return Status::Invalid(MustBe("a JSON pointer string", value), vpath);
      }
      const auto& pointer = value.get_ref<const std::string&>();
      if (!pointer.empty() && pointer.front() != '/') {
        return Status::Invalid("must be a JSON pointer: \"\" or starting with '/'", vpath);
      }
      try {
        json::json_pointer parsed(pointer);
        (void)parsed;
      } catch (const std::exception&) {
        return Status::Invalid("malformed JSON pointer (a '~' must be followed by 0 or 1)", vpath);
      }
    }
  }
  return Status::Ok();
}

// Reads params that passed CheckParams(params, ..., false).
HttpParams ExtractParams(const json& params) {
  HttpParams p;
  p.request = ExtractHttpRequestParams(params);
  auto statuses = [](const json& v) {
    std::vector<long> out;
    if (v.is_array()) {
      for (const auto& x : v) out.push_back(x.get<long>());
    } else {
      out.push_back(v.get<long>());
    }
    return out;
  };
  if (auto it = params.find("expected_status"); it != params.end()) {
    p.expected_status = statuses(*it);
  }
  if (auto it = params.find("retry_status"); it != params.end()) p.retry_status = statuses(*it);
  if (auto it = params.find("outputs"); it != params.end()) {
    p.outputs.emplace();
    for (const auto& [name, value] : it->items())
      p.outputs->emplace_back(name, value.get<std::string>());
  }
  return p;
}

class HttpTask : public Task {
 public:
  Status Validate(const json& params, const std::string& json_path) const override {
    return CheckParams(params, json_path, /*allow_expressions=*/true);
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    if (Status s = CheckParams(ctx.params(), "", /*allow_expressions=*/false); !s.ok()) {
      return TaskOutcome::Failed(params::InvalidParamsMessage(s));
    }
    HttpParams p = ExtractParams(ctx.params());
    Result<HttpRequest> built = BuildHttpRequest(p.request, ctx);
    if (!built.ok()) return TaskOutcome::Failed(built.status().message(), /*retryable=*/true);
    const HttpRequest& req = *built;

    const std::string display = req.method + " " + DisplayUrl(req.url);
    const auto start = Clock::now();
    HttpErrorKind kind = HttpErrorKind::kNone;
    Result<HttpResponse> result = HttpCall(req, &kind);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    if (!result.ok()) {
      ctx.log().info("http {} -> {} error in {} ms", display, HttpErrorKindName(kind), ms);
      bool retryable = IsTransientHttpError(kind);
      return TaskOutcome::Failed(req.method + " " + result.status().message(), retryable);
    }
    const HttpResponse& resp = *result;
    ctx.log().info("http {} -> {} in {} ms", display, resp.status, ms);

    bool expected = p.expected_status.empty()
                        ? resp.status >= 200 && resp.status < 300
                        : std::find(p.expected_status.begin(), p.expected_status.end(),
                                    resp.status) != p.expected_status.end();
    if (!expected) {
      std::string error = display + ": unexpected status " + std::to_string(resp.status);
      if (!resp.body.empty()) error += ": " + params::Snippet(resp.body, kErrorBodyBytes);
      bool retryable = p.retry_status ? std::find(p.retry_status->begin(), p.retry_status->end(),
                                                  resp.status) != p.retry_status->end()
                                      : IsTransientHttpStatus(resp.status);
      return TaskOutcome::Failed(std::move(error), retryable);
    }

    json outputs = json::object();
    outputs["status"] = resp.status;
    if (p.outputs) {
      if (p.outputs->empty()) return TaskOutcome::Succeeded(std::move(outputs));
      json doc = json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
      if (doc.is_discarded()) {
        return TaskOutcome::Failed(display + ": status " + std::to_string(resp.status) +
                                   ", but the response body is not JSON, so output '" +
                                   p.outputs->front().first + "' cannot be read from it");
      }
      for (const auto& [name, pointer] : *p.outputs) {
        const json* value = nullptr;
        try {
          json::json_pointer ptr(pointer);
          if (doc.contains(ptr)) value = &doc.at(ptr);
        } catch (const std::exception&) {
          value = nullptr;
        }
        if (!value) {
          return TaskOutcome::Failed("output '" + name + "': no value at JSON pointer '" + pointer +
                                     "' in the response body of " + display + " (status " +
                                     std::to_string(resp.status) + ")");
        }
        outputs[name] = *value;
      }
    } else if (!resp.body.empty()) {
      json doc = json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
      if (!doc.is_discarded()) outputs["body"] = std::move(doc);
    }
    return TaskOutcome::Succeeded(std::move(outputs));
  }
};

}  // namespace

std::unique_ptr<Task> MakeHttpTask() { return std::make_unique<HttpTask>(); }

}  // namespace wf
