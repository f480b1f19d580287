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
#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "builtin.h"
#include "wf/http_client.h"

namespace wf {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kErrorBodyBytes = 512;
constexpr int64_t kMaxTimeoutMs = 24LL * 60 * 60 * 1000;
constexpr std::string_view kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
constexpr std::string_view kParams[] = {"method",      "url",
                                        "headers",     "query",
                                        "body",        "expected_status",
                                        "outputs",     "connect_timeout_ms",
                                        "timeout_ms",  "idempotency_header",
                                        "retry_status"};

struct HttpParams {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  json query = json::object();
  std::optional<json> body;
  std::vector<long> expected_status;              // empty: any 2xx
  std::optional<std::vector<long>> retry_status;  // retryable statuses; default 429 and 5xx
  std::optional<std::vector<std::pair<std::string, std::string>>> outputs;  // name, pointer
  long connect_timeout_ms = 5000;
  long timeout_ms = 30000;
  std::string idempotency_header = "Idempotency-Key";
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool IsHeaderName(std::string_view s) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string_view::npos;
  });
}

bool IsIntIn(const json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    return u >= static_cast<uint64_t>(std::max<int64_t>(lo, 0)) && u <= static_cast<uint64_t>(hi);
  }
  if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    return i >= lo && i <= hi;
  }
  return false;
}

std::string MustBe(const char* what, const json& v) {
  return std::string("must be ") + what + ", not " + JsonTypeName(v);
}

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
    if (std::find(std::begin(kParams), std::end(kParams), key) == std::end(kParams)) {
      return Status::Invalid("unknown param", JsonPathJoin(path, key));
    }
  }

  if (Status s = RequireString(params, "url", path); !s.ok()) return s;
  const json& url = params["url"];
  if (!expr(url)) {
    const auto& text = url.get_ref<const std::string&>();
    if (!StartsWithIgnoreCase(text, "http://") && !StartsWithIgnoreCase(text, "https://")) {
      return Status::Invalid("must be an http:// or https:// URL", JsonPathJoin(path, "url"));
    }
  }

  if (auto it = params.find("method"); it != params.end() && !expr(*it)) {
    if (!it->is_string())
      return Status::Invalid(MustBe("a string", *it), JsonPathJoin(path, "method"));
    const auto& m = it->get_ref<const std::string&>();
    if (std::none_of(std::begin(kMethods), std::end(kMethods),
                     [&](std::string_view k) { return EqualsIgnoreCase(k, m); })) {
      return Status::Invalid("must be one of GET, POST, PUT, PATCH, DELETE, HEAD",
                             JsonPathJoin(path, "method"));
    }
  }

  if (auto it = params.find("headers"); it != params.end() && !expr(*it)) {
    std::string hpath = JsonPathJoin(path, "headers");
    if (!it->is_object()) return Status::Invalid(MustBe("an object", *it), hpath);
    for (const auto& [name, value] : it->items()) {
      std::string vpath = JsonPathJoin(hpath, name);
      if (!IsHeaderName(name)) return Status::Invalid("invalid header name", vpath);
      if (!value.is_string()) return Status::Invalid(MustBe("a string", value), vpath);
      if (value.get_ref<const std::string&>().find_first_of(std::string_view("\r\n\0", 3)) !=
          std::string::npos) {
        return Status::Invalid("must not contain line breaks", vpath);
      }
    }
  }

  if (auto it = params.find("query"); it != params.end() && !expr(*it)) {
    std::string qpath = JsonPathJoin(path, "query");
    if (!it->is_object()) return Status::Invalid(MustBe("an object", *it), qpath);
    for (const auto& [name, value] : it->items()) {
      if (!value.is_string() && !value.is_number() && !value.is_boolean()) {
        return Status::Invalid(MustBe("a string, number or boolean", value),
                               JsonPathJoin(qpath, name));
      }
    }
  }

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

  for (const char* key : {"connect_timeout_ms", "timeout_ms"}) {
    if (auto it = params.find(key); it != params.end() && !expr(*it)) {
      if (!IsIntIn(*it, 1, kMaxTimeoutMs)) {
        return Status::Invalid(MustBe("a positive integer (milliseconds, at most one day)", *it),
                               JsonPathJoin(path, key));
      }
    }
  }

  if (auto it = params.find("idempotency_header"); it != params.end() && !expr(*it)) {
    std::string ipath = JsonPathJoin(path, "idempotency_header");
    if (!it->is_string()) return Status::Invalid(MustBe("a string", *it), ipath);
    const auto& name = it->get_ref<const std::string&>();
    if (!name.empty() && !IsHeaderName(name)) {
      return Status::Invalid("must be a header name, or \"\" to send none", ipath);
    }
  }
  return Status::Ok();
}

// Reads params that passed CheckParams(params, ..., false).
HttpParams ExtractParams(const json& params) {
  HttpParams p;
  p.url = params["url"].get<std::string>();
  if (auto it = params.find("method"); it != params.end())
    p.method = ToUpper(it->get<std::string>());
  if (auto it = params.find("headers"); it != params.end()) {
    for (const auto& [name, value] : it->items())
      p.headers.emplace_back(name, value.get<std::string>());
  }
  if (auto it = params.find("query"); it != params.end()) p.query = *it;
  if (auto it = params.find("body"); it != params.end()) p.body = *it;
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
  if (auto it = params.find("connect_timeout_ms"); it != params.end()) {
    p.connect_timeout_ms = it->get<long>();
  }
  if (auto it = params.find("timeout_ms"); it != params.end()) p.timeout_ms = it->get<long>();
  if (auto it = params.find("idempotency_header"); it != params.end()) {
    p.idempotency_header = it->get<std::string>();
  }
  return p;
}

std::string QueryValue(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

// Appends the query params (in key order) to the URL, before any fragment.
std::string WithQuery(const std::string& url, const json& query) {
  if (query.empty()) return url;
  size_t hash = url.find('#');
  std::string base = url.substr(0, hash);
  std::string fragment = hash == std::string::npos ? "" : url.substr(hash);
  if (base.find('?') == std::string::npos) {
    base += '?';
  } else if (base.back() != '?' && base.back() != '&') {
    base += '&';
  }
  bool first = true;
  for (const auto& [name, value] : query.items()) {
    if (!first) base += '&';
    first = false;
    base += UrlEncode(name) + "=" + UrlEncode(QueryValue(value));
  }
  return base + fragment;
}

// Up to `limit` bytes of `text` as valid UTF-8 without control characters, so that it is
// safe in an error message (which ends up in JSON and in logs).
std::string Snippet(std::string_view text, size_t limit) {
  std::string out;
  size_t i = 0;
  while (i < text.size() && i < limit) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool valid = len > 0 && i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    }
    if (valid && len == 2 && c < 0xc2) valid = false;  // overlong
    if (valid && len == 3) {
      auto c1 = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0))
        valid = false;  // overlong, surrogate
    }
    if (valid && len == 4) {
      auto c1 = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xf0 && c1 < 0x90) || c > 0xf4 || (c == 0xf4 && c1 >= 0x90)) valid = false;
    }
    if (!valid) {
      out += '?';
      ++i;
      continue;
    }
    if (i + len > limit) break;
    if (len == 1 && (c < 0x20 || c == 0x7f)) {
      out += ' ';
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  if (i < text.size()) out += "...";
  return out;
}

bool HasHeader(const std::vector<std::pair<std::string, std::string>>& headers,
               std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return EqualsIgnoreCase(h.first, name); });
}

class HttpTask : public Task {
 public:
  Status Validate(const json& params, const std::string& json_path) const override {
    return CheckParams(params, json_path, /*allow_expressions=*/true);
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    if (Status s = CheckParams(ctx.params(), "", /*allow_expressions=*/false); !s.ok()) {
      return TaskOutcome::Failed("invalid params: " + s.message() +
                                 (s.path().empty() ? "" : " (at " + s.path() + ")"));
    }
    HttpParams p = ExtractParams(ctx.params());

    HttpRequest req;
    req.method = p.method;
    req.url = WithQuery(p.url, p.query);
    req.headers = p.headers;
    auto add_default = [&](const std::string& name, const std::string& value) {
      if (!HasHeader(req.headers, name)) req.headers.emplace_back(name, value);
    };
    if (p.body) {
      if (p.body->is_string()) {
        req.body = p.body->get<std::string>();
        add_default("Content-Type", "text/plain; charset=utf-8");
      } else {
        req.body = p.body->dump(-1, ' ', false, json::error_handler_t::replace);
        add_default("Content-Type", "application/json");
      }
    }
    if (!p.idempotency_header.empty()) add_default(p.idempotency_header, ctx.idempotency_key());
    add_default("X-Request-Id", ctx.request_id());
    add_default("X-Trace-Id", ctx.trace_id());
    req.connect_timeout_ms = p.connect_timeout_ms;
    req.timeout_ms = p.timeout_ms;

    const std::string display = req.method + " " + DisplayUrl(req.url);
    const auto start = Clock::now();
    const auto deadline = ctx.deadline();
    if (deadline != Clock::time_point{} && deadline != Clock::time_point::max()) {
      if (deadline <= start) {
        return TaskOutcome::Failed(display + ": the task's deadline passed before the call",
                                   /*retryable=*/true);
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - start).count();
      if (left < req.timeout_ms) req.timeout_ms = std::max<long>(1, static_cast<long>(left));
      req.connect_timeout_ms = std::min(req.connect_timeout_ms, req.timeout_ms);
    }

    HttpErrorKind kind = HttpErrorKind::kNone;
    Result<HttpResponse> result = HttpCall(req, &kind);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    if (!result.ok()) {
      ctx.log().info("http {} -> {} error in {} ms", display, HttpErrorKindName(kind), ms);
      bool retryable = kind == HttpErrorKind::kConnect || kind == HttpErrorKind::kTimeout;
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
      if (!resp.body.empty()) error += ": " + Snippet(resp.body, kErrorBodyBytes);
      bool retryable = p.retry_status
                           ? std::find(p.retry_status->begin(), p.retry_status->end(),
                                       resp.status) != p.retry_status->end()
                           : resp.status == 429 || (resp.status >= 500 && resp.status < 600);
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
