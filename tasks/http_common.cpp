#include "http_common.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "params.h"
#include "wf/core/crypto.h"

namespace wf {
namespace {

using Clock = std::chrono::steady_clock;
using params::IsIntIn;
using params::MustBe;

constexpr int64_t kMaxTimeoutMs = 24LL * 60 * 60 * 1000;
constexpr std::string_view kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};

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

std::string QueryValue(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

}  // namespace

Status CheckHttpRequestParams(const json& params, const std::string& path, bool allow_expressions) {
  auto expr = [&](const json& v) { return allow_expressions && IsExpression(v); };
  if (!params.is_object()) return Status::Invalid(MustBe("an object", params), path);

  if (Status s = RequireString(params, "url", path); !s.ok()) return s;
  const json& url = params["url"];
  if (!expr(url)) {
    const auto& text = url.get_ref<const std::string&>();
    if (!params::StartsWithIgnoreCase(text, "http://") &&
        !params::StartsWithIgnoreCase(text, "https://")) {
      return Status::Invalid("must be an http:// or https:// URL", JsonPathJoin(path, "url"));
    }
  }

  if (auto it = params.find("method"); it != params.end() && !expr(*it)) {
    if (!it->is_string())
      return Status::Invalid(MustBe("a string", *it), JsonPathJoin(path, "method"));
    const auto& m = it->get_ref<const std::string&>();
    if (std::none_of(std::begin(kMethods), std::end(kMethods),
                     [&](std::string_view k) { return params::EqualsIgnoreCase(k, m); })) {
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

  if (auto it = params.find("form"); it != params.end() && !expr(*it)) {
    std::string fpath = JsonPathJoin(path, "form");
    if (params.contains("body")) return Status::Invalid("give body or form, not both", fpath);
    if (!it->is_object()) return Status::Invalid(MustBe("an object", *it), fpath);
    for (const auto& [name, value] : it->items()) {
      if (!value.is_string() && !value.is_number() && !value.is_boolean() && !expr(value)) {
        return Status::Invalid(MustBe("a string, number or boolean", value),
                               JsonPathJoin(fpath, name));
      }
    }
  }

  if (auto it = params.find("auth"); it != params.end() && !expr(*it)) {
    std::string apath = JsonPathJoin(path, "auth");
    if (!it->is_object() || it->size() != 1 ||
        (!it->contains("bearer") && !it->contains("basic"))) {
      return Status::Invalid(
          "must be {\"bearer\": TOKEN} or {\"basic\": {\"username\", \"password\"}}", apath);
    }
    if (auto b = it->find("bearer"); b != it->end() && !expr(*b)) {
      if (!b->is_string() || b->get_ref<const std::string&>().empty()) {
        return Status::Invalid(MustBe("a non-empty string", *b), JsonPathJoin(apath, "bearer"));
      }
    }
    if (auto b = it->find("basic"); b != it->end() && !expr(*b)) {
      std::string bpath = JsonPathJoin(apath, "basic");
      if (!b->is_object()) return Status::Invalid(MustBe("an object", *b), bpath);
      if (Status s = RequireString(*b, "username", bpath); !s.ok()) return s;
      if (Status s = RequireString(*b, "password", bpath); !s.ok()) return s;
    }
  }

  if (auto it = params.find("tls"); it != params.end() && !expr(*it)) {
    std::string tpath = JsonPathJoin(path, "tls");
    if (!it->is_object()) return Status::Invalid(MustBe("an object", *it), tpath);
    for (const auto& [name, value] : it->items()) {
      std::string vpath = JsonPathJoin(tpath, name);
      if (name == "verify") {
        if (!value.is_boolean() && !expr(value))
          return Status::Invalid(MustBe("true or false", value), vpath);
      } else if (name == "ca_file" || name == "client_cert" || name == "client_key") {
        if (!value.is_string() && !expr(value))
          return Status::Invalid(MustBe("a file path", value), vpath);
      } else {
        return Status::Invalid("unknown TLS option (verify, ca_file, client_cert, client_key)",
                               vpath);
      }
    }
    if (it->contains("client_key") && !it->contains("client_cert")) {
      return Status::Invalid("client_key needs client_cert", JsonPathJoin(tpath, "client_key"));
    }
  }

  if (auto it = params.find("proxy"); it != params.end() && !expr(*it)) {
    std::string ppath = JsonPathJoin(path, "proxy");
    if (!it->is_string()) return Status::Invalid(MustBe("a string", *it), ppath);
    const auto& text = it->get_ref<const std::string&>();
    if (text != "none" && !params::StartsWithIgnoreCase(text, "http://") &&
        !params::StartsWithIgnoreCase(text, "https://")) {
      return Status::Invalid("must be an http:// or https:// proxy URL, or \"none\"", ppath);
    }
  }

  if (auto it = params.find("follow_redirects"); it != params.end() && !expr(*it)) {
    if (!it->is_boolean())
      return Status::Invalid(MustBe("true or false", *it), JsonPathJoin(path, "follow_redirects"));
  }
  if (auto it = params.find("max_redirects"); it != params.end() && !expr(*it)) {
    if (!IsIntIn(*it, 0, 50))
      return Status::Invalid(MustBe("an integer from 0 to 50", *it),
                             JsonPathJoin(path, "max_redirects"));
  }
  if (auto it = params.find("max_response_bytes"); it != params.end() && !expr(*it)) {
    if (!IsIntIn(*it, 1, int64_t{1} << 30))
      return Status::Invalid(MustBe("an integer from 1 to 1073741824", *it),
                             JsonPathJoin(path, "max_response_bytes"));
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

HttpRequestParams ExtractHttpRequestParams(const json& params, const std::string& default_method) {
  HttpRequestParams p;
  p.method = default_method;
  p.url = params["url"].get<std::string>();
  if (auto it = params.find("method"); it != params.end())
    p.method = ToUpper(it->get<std::string>());
  if (auto it = params.find("headers"); it != params.end()) {
    for (const auto& [name, value] : it->items())
      p.headers.emplace_back(name, value.get<std::string>());
  }
  if (auto it = params.find("query"); it != params.end()) p.query = *it;
  if (auto it = params.find("body"); it != params.end()) p.body = *it;
  if (auto it = params.find("form"); it != params.end()) p.form = *it;
  if (auto it = params.find("auth"); it != params.end()) {
    if (auto b = it->find("bearer"); b != it->end()) {
      p.authorization = "Bearer " + b->get<std::string>();
    } else {
      const json& basic = (*it)["basic"];
      p.authorization = "Basic " + Base64Encode(basic["username"].get<std::string>() + ":" +
                                                basic["password"].get<std::string>());
    }
  }
  if (auto it = params.find("tls"); it != params.end()) {
    p.verify_tls = it->value("verify", true);
    p.ca_file = it->value("ca_file", "");
    p.client_cert = it->value("client_cert", "");
    p.client_key = it->value("client_key", "");
  }
  if (auto it = params.find("proxy"); it != params.end()) p.proxy = it->get<std::string>();
  if (auto it = params.find("follow_redirects"); it != params.end()) {
    p.follow_redirects = it->get<bool>();
  }
  if (auto it = params.find("max_redirects"); it != params.end()) {
    p.max_redirects = it->get<int>();
  }
  if (auto it = params.find("max_response_bytes"); it != params.end()) {
    p.max_response_bytes = it->get<size_t>();
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

Result<HttpRequest> BuildHttpRequest(const HttpRequestParams& p, const TaskContext& ctx) {
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
  if (!p.form.is_null()) {
    std::string encoded;
    for (const auto& [name, value] : p.form.items()) {
      if (!encoded.empty()) encoded += '&';
      encoded += UrlEncode(name) + "=" + UrlEncode(QueryValue(value));
    }
    req.body = std::move(encoded);
    add_default("Content-Type", "application/x-www-form-urlencoded");
  }
  if (!p.authorization.empty()) add_default("Authorization", p.authorization);
  req.verify_tls = p.verify_tls;
  req.ca_file = p.ca_file;
  req.client_cert_file = p.client_cert;
  req.client_key_file = p.client_key;
  req.proxy = p.proxy;
  req.follow_redirects = p.follow_redirects;
  req.max_redirects = p.max_redirects;
  req.max_response_bytes = p.max_response_bytes;
  if (!p.idempotency_header.empty()) add_default(p.idempotency_header, ctx.idempotency_key());
  add_default("X-Request-Id", ctx.request_id());
  add_default("X-Trace-Id", ctx.trace_id());
  req.connect_timeout_ms = p.connect_timeout_ms;
  req.timeout_ms = p.timeout_ms;

  const auto now = Clock::now();
  const auto deadline = ctx.deadline();
  if (deadline != Clock::time_point{} && deadline != Clock::time_point::max()) {
    if (deadline <= now) {
      return Status(
          StatusCode::kDeadlineExceeded,
          req.method + " " + DisplayUrl(req.url) + ": the task's deadline passed before the call");
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    if (left < req.timeout_ms) req.timeout_ms = std::max<long>(1, static_cast<long>(left));
    req.connect_timeout_ms = std::min(req.connect_timeout_ms, req.timeout_ms);
  }
  return req;
}

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

bool HasHeader(const std::vector<std::pair<std::string, std::string>>& headers,
               std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return params::EqualsIgnoreCase(h.first, name); });
}

bool IsTransientHttpError(HttpErrorKind kind) {
  return kind == HttpErrorKind::kConnect || kind == HttpErrorKind::kTimeout;
}

bool IsTransientHttpStatus(long status) { return status == 429 || (status >= 500 && status < 600); }

}  // namespace wf
