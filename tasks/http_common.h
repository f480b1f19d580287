// What the HTTP-speaking modules (http, http_poll, notify's webhook) share: the params that
// describe one request, their checks, and building the libcurl-client request from them.
// Pure functions; thread-safe.
//
// Request params:
//   url                 required, http:// or https://
//   method              GET (or the module's default), POST, PUT, PATCH, DELETE or HEAD
//   headers             object: header name -> string
//   query               object: name -> string, number or boolean; appended URL-encoded
//   body                any JSON value, sent as JSON (Content-Type: application/json unless
//                       a Content-Type header is given); a string is sent as is
//   form                object: name -> string, number or boolean, sent URL-encoded as
//                       application/x-www-form-urlencoded (instead of `body`)
//   auth                {"bearer": TOKEN} or {"basic": {"username", "password"}}: the
//                       Authorization header (use ${secrets.<name>} for the values)
//   tls                 {"verify": true, "ca_file", "client_cert", "client_key"}: files are
//                       PEM paths on the engine host; verify false accepts any certificate
//   proxy               "http://host:port", or "none"; default: the *_proxy environment
//   follow_redirects    default false; max_redirects default 5 (http and https only)
//   max_response_bytes  default 10 MiB; a longer answer fails the call
//   connect_timeout_ms  default 5000
//   timeout_ms          default 30000 (the whole exchange)
//   idempotency_header  default "Idempotency-Key"; "" sends none
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wf/http_client.h"
#include "wf/task.h"

namespace wf {

inline constexpr std::string_view kHttpRequestParams[] = {"method",
                                                          "url",
                                                          "headers",
                                                          "query",
                                                          "body",
                                                          "form",
                                                          "auth",
                                                          "tls",
                                                          "proxy",
                                                          "follow_redirects",
                                                          "max_redirects",
                                                          "max_response_bytes",
                                                          "connect_timeout_ms",
                                                          "timeout_ms",
                                                          "idempotency_header"};

struct HttpRequestParams {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  json query = json::object();
  std::optional<json> body;
  json form;                  // null when none
  std::string authorization;  // the Authorization header from `auth`; "" when none
  bool verify_tls = true;
  std::string ca_file, client_cert, client_key;
  std::string proxy;
  bool follow_redirects = false;
  int max_redirects = 5;
  size_t max_response_bytes = 10 << 20;
  long connect_timeout_ms = 5000;
  long timeout_ms = 30000;
  std::string idempotency_header = "Idempotency-Key";
};

// Checks the request params present in `params` (an object; other keys are the caller's
// to check). At load time (allow_expressions) a `${...}` string passes any type check.
Status CheckHttpRequestParams(const json& params, const std::string& path, bool allow_expressions);

// Reads params that passed CheckHttpRequestParams(params, ..., false).
HttpRequestParams ExtractHttpRequestParams(const json& params,
                                           const std::string& default_method = "GET");

// The request for `p` on behalf of the task: query appended, body encoded, the
// idempotency header (`<request id>/<task id>`), X-Request-Id and X-Trace-Id added unless
// `p.headers` has them, and the timeouts cut to what is left of the task's deadline.
// DeadlineExceeded when the deadline has already passed.
Result<HttpRequest> BuildHttpRequest(const HttpRequestParams& p, const TaskContext& ctx);

// Appends the query params (in key order) to the URL, before any fragment.
std::string WithQuery(const std::string& url, const json& query);

bool HasHeader(const std::vector<std::pair<std::string, std::string>>& headers,
               std::string_view name);

// True when a failed call (`kind`) or a response status is worth trying again:
// connect errors, timeouts, 429 and 5xx.
bool IsTransientHttpError(HttpErrorKind kind);
bool IsTransientHttpStatus(long status);

}  // namespace wf
