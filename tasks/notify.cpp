// notify: tell someone something — a webhook POST or an e-mail over SMTP.
//
// Params: exactly one of
//   webhook  the request params of http_common.h (url, method = POST, headers, query, body,
//            connect_timeout_ms, timeout_ms, idempotency_header); `body` is the message,
//            with `${...}` expressions resolved like any param
//   email    {smtp_url: "smtp://host:port" or "smtps://host:port", from, to: [addresses],
//            cc: [addresses], subject, body (text), starttls: "try" (default) | "required" |
//            "never", username, password, connect_timeout_ms = 5000, timeout_ms = 30000}
//            Addresses are "user@example.com" or "Name <user@example.com>".
//
// Outcome: a webhook succeeds on 2xx, fails retryably on connection errors, timeouts, 429
// and 5xx, and for good on other statuses. An e-mail succeeds when the server accepts it
// (250 after DATA); transient SMTP replies (4xx), connection errors and timeouts are
// retryable, permanent ones (5xx, login denied, STARTTLS required but not offered) are not.
//
// State: "sent" = the outputs, saved once the message went out, so that a re-invocation
// (an engine restart before the task's completion was recorded) does not send it twice.
// Outputs: {"channel": "webhook", "status": <HTTP status>} or
//          {"channel": "email", "recipients": <count>, "message_id": "<...>"}.
#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include "builtin.h"
#include "http_common.h"
#include "params.h"
#include "wf/core/crypto.h"

namespace wf {
namespace {

using params::MustBe;

constexpr size_t kSnippetBytes = 512;
constexpr int64_t kMaxTimeoutMs = 24LL * 60 * 60 * 1000;

struct Address {
  std::string header;    // as given: "Name <user@host>" or "user@host"
  std::string envelope;  // "<user@host>"
};

// "user@host" or "Name <user@host>"; no control characters, quotes or extra brackets.
std::optional<Address> ParseAddress(const std::string& text) {
  if (text.empty() || text.size() > 320) return std::nullopt;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '"' || c == ',' || c == ';') return std::nullopt;
  }
  std::string addr = text;
  size_t lt = text.find('<');
  if (lt != std::string::npos) {
    if (text.back() != '>' || text.find('<', lt + 1) != std::string::npos) return std::nullopt;
    addr = text.substr(lt + 1, text.size() - lt - 2);
  } else if (text.find('>') != std::string::npos) {
    return std::nullopt;
  }
  size_t at = addr.find('@');
  if (at == 0 || at == std::string::npos || at + 1 == addr.size() ||
      addr.find('@', at + 1) != std::string::npos ||
      addr.find_first_of(" <>()[]\\:") != std::string::npos) {
    return std::nullopt;
  }
  return Address{text, "<" + addr + ">"};
}

Status CheckAddressList(const json& email, const char* key, const std::string& path, bool expr_ok,
                        bool required) {
  std::string lpath = JsonPathJoin(path, key);
  auto it = email.find(key);
  if (it == email.end()) {
    return required ? Status::Invalid(std::string("'") + key + "' is required", lpath)
                    : Status::Ok();
  }
  if (expr_ok && IsExpression(*it)) return Status::Ok();
  if (!it->is_array()) return Status::Invalid(MustBe("an array of e-mail addresses", *it), lpath);
  if (required && it->empty()) return Status::Invalid("must not be empty", lpath);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    if (expr_ok && IsExpression(v)) continue;
    if (!v.is_string() || !ParseAddress(v.get<std::string>())) {
      return Status::Invalid(
          "must be an e-mail address (user@example.com or Name <user@example.com>)",
          JsonPathJoin(lpath, i));
    }
  }
  return Status::Ok();
}

Status CheckEmail(const json& email, const std::string& path, bool allow_expressions) {
  auto expr = [&](const json& v) { return allow_expressions && IsExpression(v); };
  if (Status s =
          params::CheckObjectKeys(email,
                                  {"smtp_url", "from", "to", "cc", "subject", "body", "starttls",
                                   "username", "password", "connect_timeout_ms", "timeout_ms"},
                                  path);
      !s.ok()) {
    return s;
  }
  for (const char* key : {"smtp_url", "from", "subject", "body"}) {
    if (Status s = RequireString(email, key, path); !s.ok()) return s;
  }
  for (const char* key : {"username", "password"}) {
    if (Status s = RequireString(email, key, path, /*required=*/false); !s.ok()) return s;
  }
  if (const json& url = email["smtp_url"]; !expr(url)) {
    const auto& text = url.get_ref<const std::string&>();
    if (!params::StartsWithIgnoreCase(text, "smtp://") &&
        !params::StartsWithIgnoreCase(text, "smtps://")) {
      return Status::Invalid("must be an smtp:// or smtps:// URL", JsonPathJoin(path, "smtp_url"));
    }
  }
  if (const json& from = email["from"]; !expr(from) && !ParseAddress(from.get<std::string>())) {
    return Status::Invalid(
        "must be an e-mail address (user@example.com or Name <user@example.com>)",
        JsonPathJoin(path, "from"));
  }
  if (const json& subject = email["subject"]; !expr(subject)) {
    const auto& text = subject.get_ref<const std::string&>();
    if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return Status::Invalid("must not contain line breaks", JsonPathJoin(path, "subject"));
    }
  }
  if (Status s = CheckAddressList(email, "to", path, allow_expressions, true); !s.ok()) return s;
  if (Status s = CheckAddressList(email, "cc", path, allow_expressions, false); !s.ok()) return s;
  if (auto it = email.find("starttls"); it != email.end() && !expr(*it)) {
    if (!it->is_string() || (*it != "try" && *it != "required" && *it != "never")) {
      return Status::Invalid("must be \"try\", \"required\" or \"never\"",
                             JsonPathJoin(path, "starttls"));
    }
  }
  for (const char* key : {"connect_timeout_ms", "timeout_ms"}) {
    if (auto it = email.find(key);
        it != email.end() && !expr(*it) && !params::IsIntIn(*it, 1, kMaxTimeoutMs)) {
      return Status::Invalid(MustBe("a positive integer (milliseconds, at most one day)", *it),
                             JsonPathJoin(path, key));
    }
  }
  return Status::Ok();
}

Status CheckParams(const json& p, const std::string& path, bool allow_expressions) {
  if (Status s = params::CheckObjectKeys(p, {"webhook", "email"}, path); !s.ok()) return s;
  if (p.contains("webhook") == p.contains("email")) {
    return Status::Invalid("give exactly one of 'webhook' and 'email'", path);
  }
  if (auto it = p.find("webhook"); it != p.end()) {
    std::string wpath = JsonPathJoin(path, "webhook");
    if (allow_expressions && IsExpression(*it)) return Status::Ok();
    if (Status s =
            params::CheckObjectKeys(*it,
                                    {"method", "url", "headers", "query", "body",
                                     "connect_timeout_ms", "timeout_ms", "idempotency_header"},
                                    wpath);
        !s.ok()) {
      return s;
    }
    return CheckHttpRequestParams(*it, wpath, allow_expressions);
  }
  const json& email = p["email"];
  if (allow_expressions && IsExpression(email)) return Status::Ok();
  return CheckEmail(email, JsonPathJoin(path, "email"), allow_expressions);
}

TaskOutcome SendWebhook(const json& params, TaskContext& ctx) {
  HttpRequestParams rp = ExtractHttpRequestParams(params, "POST");
  Result<HttpRequest> built = BuildHttpRequest(rp, ctx);
  if (!built.ok()) return TaskOutcome::Failed(built.status().message(), /*retryable=*/true);
  const std::string display = built->method + " " + DisplayUrl(built->url);
  HttpErrorKind kind = HttpErrorKind::kNone;
  Result<HttpResponse> r = HttpCall(*built, &kind);
  if (!r.ok()) {
    ctx.log().info("notify webhook {} -> {} error", display, HttpErrorKindName(kind));
    return TaskOutcome::Failed("webhook " + built->method + " " + r.status().message(),
                               IsTransientHttpError(kind));
  }
  ctx.log().info("notify webhook {} -> {}", display, r->status);
  if (r->status < 200 || r->status >= 300) {
    return TaskOutcome::Failed(
        "webhook " + display + ": status " + std::to_string(r->status) +
            (r->body.empty() ? "" : ": " + params::Snippet(r->body, kSnippetBytes)),
        IsTransientHttpStatus(r->status));
  }
  return TaskOutcome::Succeeded({{"channel", "webhook"}, {"status", r->status}});
}

// A header value as is when it is printable ASCII, else an RFC 2047 encoded word.
std::string HeaderText(const std::string& text) {
  bool ascii = std::all_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
  return ascii ? text : "=?UTF-8?B?" + Base64Encode(text) + "?=";
}

// The body with CRLF line ends.
std::string CrLf(const std::string& body) {
  std::string out;
  out.reserve(body.size() + body.size() / 32 + 2);
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;
    if (body[i] == '\n' || body[i] == '\r') {
      out += "\r\n";
    } else {
      out += body[i];
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* u = static_cast<Upload*>(userdata);
  size_t n = std::min(size * nitems, u->data->size() - u->offset);
  std::memcpy(buffer, u->data->data() + u->offset, n);
  u->offset += n;
  return n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

TaskOutcome SendEmail(const json& e, TaskContext& ctx) {
  static std::once_flag once;
  static CURLcode init = CURLE_OK;
  std::call_once(once, [] { init = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init != CURLE_OK) return TaskOutcome::Failed("libcurl initialisation failed", true);

  const std::string url = e["smtp_url"].get<std::string>();
  const Address from = *ParseAddress(e["from"].get<std::string>());
  std::vector<Address> to, cc;
  for (const auto& a : e["to"]) to.push_back(*ParseAddress(a.get<std::string>()));
  if (auto it = e.find("cc"); it != e.end()) {
    for (const auto& a : *it) cc.push_back(*ParseAddress(a.get<std::string>()));
  }
  auto join = [](const std::vector<Address>& list) {
    std::string out;
    for (const auto& a : list) out += (out.empty() ? "" : ", ") + a.header;
    return out;
  };
  std::string message_id = "<" + ctx.request_id() + "." + ctx.task_id() + "@wf-engine>";
  for (char& c : message_id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr("<>@.-_", c) == nullptr)
      c = '_';
  }
  char date[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string message = std::string("Date: ") + date + "\r\n" + "From: " + HeaderText(from.header) +
                        "\r\n" + "To: " + HeaderText(join(to)) + "\r\n" +
                        (cc.empty() ? "" : "Cc: " + HeaderText(join(cc)) + "\r\n") +
                        "Subject: " + HeaderText(e["subject"].get<std::string>()) + "\r\n" +
                        "Message-ID: " + message_id + "\r\n" +
                        "X-Request-Id: " + HeaderText(ctx.request_id()) + "\r\n" +
                        "X-Trace-Id: " + HeaderText(ctx.trace_id()) + "\r\n" +
                        "MIME-Version: 1.0\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: 8bit\r\n"
                        "\r\n" +
                        CrLf(e["body"].get<std::string>());

  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return TaskOutcome::Failed("libcurl: cannot create a handle", true);
  std::unique_ptr<curl_slist, CurlDeleter> rcpt;
  for (const auto* list : {&to, &cc}) {
    for (const auto& a : *list) {
      curl_slist* next = curl_slist_append(rcpt.get(), a.envelope.c_str());
      if (!next) return TaskOutcome::Failed("out of memory", true);
      rcpt.release();
      rcpt.reset(next);
    }
  }
  long timeout_ms = e.value("timeout_ms", 30000L);
  long connect_timeout_ms = e.value("connect_timeout_ms", 5000L);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  ctx.deadline() - std::chrono::steady_clock::now())
                  .count();
  if (ctx.deadline() != std::chrono::steady_clock::time_point{}) {
    if (left <= 0) return TaskOutcome::Failed("the task's deadline passed before sending", true);
    timeout_ms = std::min<long>(timeout_ms, static_cast<long>(left));
  }
  connect_timeout_ms = std::min(connect_timeout_ms, timeout_ms);
  const std::string starttls = e.value("starttls", "try");
  Upload upload{&message};
  char error[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85.0
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.envelope.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(c, CURLOPT_READFUNCTION, &ReadUpload);
  curl_easy_setopt(c, CURLOPT_READDATA, &upload);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_USE_SSL,
                   starttls == "required" ? static_cast<long>(CURLUSESSL_ALL)
                   : starttls == "never"  ? static_cast<long>(CURLUSESSL_NONE)
                                          : static_cast<long>(CURLUSESSL_TRY));
  if (auto it = e.find("username"); it != e.end()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, it->get_ref<const std::string&>().c_str());
  }
  if (auto it = e.find("password"); it != e.end()) {
    curl_easy_setopt(c, CURLOPT_PASSWORD, it->get_ref<const std::string&>().c_str());
  }
  const std::string display = DisplayUrl(url);
  CURLcode rc = curl_easy_perform(c);
  long reply = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
  if (rc != CURLE_OK) {
    std::string why = error[0] ? error : curl_easy_strerror(rc);
    bool retryable;
    if (reply >= 500) {
      retryable = false;
    } else if (reply >= 400) {
      retryable = true;
    } else {
      retryable = rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT ||
                  rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SEND_ERROR ||
                  rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
    }
    ctx.log().info("notify email via {} failed: {} (reply {})", display, why, reply);
    return TaskOutcome::Failed(
        "email via " + display + ": " + why +
            (reply > 0 ? " (server reply " + std::to_string(reply) + ")" : ""),
        retryable);
  }
  ctx.log().info("notify email via {} to {} recipient(s), message {}", display,
                 to.size() + cc.size(), message_id);
  return TaskOutcome::Succeeded(
      {{"channel", "email"}, {"recipients", to.size() + cc.size()}, {"message_id", message_id}});
}

class NotifyTask : public Task {
 public:
  Status Validate(const json& params, const std::string& json_path) const override {
    return CheckParams(params, json_path, /*allow_expressions=*/true);
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    const json& p = ctx.params();
    if (Status s = CheckParams(p, "", /*allow_expressions=*/false); !s.ok()) {
      return TaskOutcome::Failed(params::InvalidParamsMessage(s));
    }
    auto sent = ctx.state().Get("sent");
    if (!sent.ok()) {
      return TaskOutcome::Failed("task state unavailable: " + sent.status().message(),
                                 /*retryable=*/true);
    }
    if (sent->has_value()) {
      ctx.log().info("notification already sent; not sending it again");
      return TaskOutcome::Succeeded(**sent);
    }
    TaskOutcome o =
        p.contains("webhook") ? SendWebhook(p["webhook"], ctx) : SendEmail(p["email"], ctx);
    if (o.kind == TaskOutcome::Kind::kSucceeded) {
      if (Status s = ctx.state().Set("sent", o.outputs); !s.ok()) {
        ctx.log().warn("notification sent, but that could not be saved: {}", s.message());
      }
    }
    return o;
  }
};

}  // namespace

std::unique_ptr<Task> MakeNotifyTask() { return std::make_unique<NotifyTask>(); }

}  // namespace wf
