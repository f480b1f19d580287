// http_poll: call a URL again and again until a condition on the response holds, without
// holding a worker thread between calls.
//
// Each invocation makes one request (built like the http module's, see http_common.h),
// then evaluates `failure_when` and `success_when` with the condition language of `when`
// (wf/core/condition.h) over the response, visible as `item`:
//   ${item.status}            the HTTP status (a number)
//   ${item.headers.<name>}    a response header, name in lower case
//   ${item.body...}           the body, parsed as JSON (the text when it is not JSON)
// `data` and `request` are available as in any expression. Since the engine resolves
// `${...}` in params before the task runs, conditions are written with `$${`, the escape
// for a literal `${`: "success_when": "$${item.body.state} == 'done'".
//
// A condition that cannot be evaluated yet (a field not in the body) does not hold. When
// neither holds, the task returns pending and polls again after `interval`. Connection
// errors, timeouts, 429 and 5xx are counted and polled again; only `timeout` bounds them.
// The overall deadline is saved in the task state on the first poll, so restarts and
// engine take-overs never extend it; a new attempt (template retry) starts a new one.
//
// Params: the request params of http_common.h (url, method = GET, headers, query, body,
// connect_timeout_ms, timeout_ms, idempotency_header), plus
//   success_when  required condition
//   failure_when  optional condition, checked first
//   interval      between polls: seconds or a duration string; default "10s" (>= 100ms)
//   timeout       overall: seconds or a duration string; default "10m" (<= 30 days)
//
// State: "poll" = {attempt, deadline_ms, polls, errors, last_error}.
// Outputs: status, headers, body (of the response that satisfied success_when), polls,
// errors. Failure: failure_when holds (not retryable), timeout (retryable), bad params.
#include <chrono>
#include <memory>

#include "builtin.h"
#include "http_common.h"
#include "params.h"
#include "wf/core/condition.h"

namespace wf {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kMinInterval{100};
constexpr milliseconds kMaxTimeout = std::chrono::hours(24 * 30);
constexpr size_t kSnippetBytes = 512;

// `$${` in template text stands for a literal `${`; an unescaped `${` is an expression
// resolved before the task runs.
bool HasUnescapedExpression(const std::string& text) {
  for (size_t pos = text.find("${"); pos != std::string::npos; pos = text.find("${", pos + 2)) {
    if (pos == 0 || text[pos - 1] != '$') return true;
  }
  return false;
}

std::string Unescape(std::string text) {
  for (size_t pos = text.find("$${"); pos != std::string::npos; pos = text.find("$${", pos + 2)) {
    text.erase(pos, 1);
  }
  return text;
}

Result<std::shared_ptr<const Condition>> ParseCondition(const json& v, const std::string& path) {
  if (!v.is_string()) return Status::Invalid(params::MustBe("a condition string", v), path);
  return Condition::Parse(v.get<std::string>(), path);
}

Status CheckParams(const json& p, const std::string& path, bool allow_expressions) {
  auto expr = [&](const json& v) { return allow_expressions && IsExpression(v); };
  if (!p.is_object()) return Status::Invalid(params::MustBe("an object", p), path);
  for (const auto& [key, value] : p.items()) {
    if (std::find(std::begin(kHttpRequestParams), std::end(kHttpRequestParams), key) ==
            std::end(kHttpRequestParams) &&
        key != "success_when" && key != "failure_when" && key != "interval" && key != "timeout") {
      return Status::Invalid("unknown param", JsonPathJoin(path, key));
    }
  }
  if (Status s = CheckHttpRequestParams(p, path, allow_expressions); !s.ok()) return s;
  if (!p.contains("success_when")) {
    return Status::Invalid("'success_when' is required", JsonPathJoin(path, "success_when"));
  }
  for (const char* key : {"success_when", "failure_when"}) {
    auto it = p.find(key);
    if (it == p.end()) continue;
    std::string cpath = JsonPathJoin(path, key);
    if (!it->is_string()) {
      return Status::Invalid(params::MustBe("a condition string", *it), cpath);
    }
    std::string text = it->get<std::string>();
    if (allow_expressions) {
      if (HasUnescapedExpression(text)) continue;  // complete only at run time
      text = Unescape(std::move(text));
    }
    if (auto c = Condition::Parse(text, cpath); !c.ok()) return c.status();
  }
  for (auto [key, min, max] : {std::tuple{"interval", kMinInterval, kMaxTimeout},
                               std::tuple{"timeout", milliseconds(1), kMaxTimeout}}) {
    auto it = p.find(key);
    if (it == p.end() || expr(*it)) continue;
    std::string dpath = JsonPathJoin(path, key);
    auto d = params::ParseDuration(*it, dpath, max);
    if (!d.ok()) return d.status();
    if (*d < min) {
      return Status::Invalid("must be at least " + std::to_string(min.count()) + " ms", dpath);
    }
  }
  return Status::Ok();
}

// The response as conditions see it.
json ResponseView(const HttpResponse& resp) {
  json headers = json::object();
  for (const auto& [name, value] : resp.headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!headers.contains(lower)) headers[lower] = value;
  }
  json body = nullptr;
  if (!resp.body.empty()) {
    body = json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) body = resp.body;
  }
  return {{"status", resp.status}, {"headers", std::move(headers)}, {"body", std::move(body)}};
}

class HttpPollTask : public Task {
 public:
  Status Validate(const json& params, const std::string& json_path) const override {
    return CheckParams(params, json_path, /*allow_expressions=*/true);
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    const json& p = ctx.params();
    if (Status s = CheckParams(p, "", /*allow_expressions=*/false); !s.ok()) {
      return TaskOutcome::Failed(params::InvalidParamsMessage(s));
    }
    auto success = ParseCondition(p["success_when"], "/success_when");
    std::shared_ptr<const Condition> failure;
    if (p.contains("failure_when")) failure = *ParseCondition(p["failure_when"], "/failure_when");
    const milliseconds interval = p.contains("interval")
                                      ? *params::ParseDuration(p["interval"], "", kMaxTimeout)
                                      : milliseconds(10000);
    const milliseconds timeout = p.contains("timeout")
                                     ? *params::ParseDuration(p["timeout"], "", kMaxTimeout)
                                     : milliseconds(600000);
    HttpRequestParams rp = ExtractHttpRequestParams(p);
    const std::string display = rp.method + " " + DisplayUrl(rp.url);

    if (ctx.cancelled()) return TaskOutcome::Failed("cancelled while polling " + display);
    auto saved = ctx.state().Get("poll");
    if (!saved.ok()) {
      return TaskOutcome::Failed("task state unavailable: " + saved.status().message(),
                                 /*retryable=*/true);
    }
    int64_t now = params::NowEpochMs();
    json state;
    if (saved->has_value() && (**saved).is_object() &&
        (**saved).value("attempt", -1) == ctx.attempt()) {
      state = **saved;
    } else {
      state = {{"attempt", ctx.attempt()},
               {"deadline_ms", now + timeout.count()},
               {"polls", 0},
               {"errors", 0},
               {"last_error", ""}};
    }
    const int64_t deadline = state.value("deadline_ms", now);
    auto timed_out = [&] {
      std::string error = display + ": no condition held within the timeout (" +
                          std::to_string(state.value("polls", 0)) + " polls, " +
                          std::to_string(state.value("errors", 0)) + " errors)";
      std::string last = state.value("last_error", "");
      if (!last.empty()) error += "; last: " + last;
      return TaskOutcome::Failed(std::move(error), /*retryable=*/true);
    };
    if (now >= deadline && state.value("polls", 0) > 0) return timed_out();

    Result<HttpRequest> built = BuildHttpRequest(rp, ctx);
    if (!built.ok()) return TaskOutcome::Failed(built.status().message(), /*retryable=*/true);
    HttpRequest req = std::move(*built);
    // A call never runs past the polling deadline (but gets at least one second).
    req.timeout_ms = std::min<long>(req.timeout_ms, std::max<int64_t>(1000, deadline - now));
    req.connect_timeout_ms = std::min(req.connect_timeout_ms, req.timeout_ms);

    HttpErrorKind kind = HttpErrorKind::kNone;
    Result<HttpResponse> result = HttpCall(req, &kind);
    state["polls"] = state.value("polls", 0) + 1;
    const int polls = state["polls"];

    auto next = [&]() -> TaskOutcome {
      if (Status s = ctx.state().Set("poll", state); !s.ok()) {
        return TaskOutcome::Failed("cannot save the polling state: " + s.message(),
                                   /*retryable=*/true);
      }
      int64_t after = params::NowEpochMs();
      if (after >= deadline) return timed_out();
      return TaskOutcome::Pending(std::min(interval, milliseconds(deadline - after)));
    };

    if (!result.ok() || IsTransientHttpStatus(result->status)) {
      state["errors"] = state.value("errors", 0) + 1;
      if (!result.ok()) {
        state["last_error"] = result.status().message();
        ctx.log().info("poll {}: {} -> {} error", polls, display, HttpErrorKindName(kind));
        if (!IsTransientHttpError(kind) && kind != HttpErrorKind::kOther) {
          return TaskOutcome::Failed(display + ": " + result.status().message());
        }
      } else {
        state["last_error"] = "status " + std::to_string(result->status) + ": " +
                              params::Snippet(result->body, kSnippetBytes);
        ctx.log().info("poll {}: {} -> {}", polls, display, result->status);
      }
      return next();
    }
    ctx.log().info("poll {}: {} -> {}", polls, display, result->status);

    json item = ResponseView(*result);
    json request = {{"id", ctx.request_id()}, {"trace_id", ctx.trace_id()}};
    ExpressionScope scope;
    scope.data = &ctx.data();
    scope.request = &request;
    scope.item = &item;
    scope.task = [](const std::string&) -> const json* { return nullptr; };
    auto observed = [&] {
      return "status " + std::to_string(result->status) + ", body " +
             params::Snippet(result->body, kSnippetBytes);
    };
    if (failure) {
      auto holds = failure->Evaluate(scope);
      if (holds.ok() && *holds) {
        return TaskOutcome::Failed(display + ": failure_when holds (" + failure->text() +
                                   "): " + observed());
      }
      if (!holds.ok()) state["last_error"] = "failure_when: " + holds.status().message();
    }
    auto holds = (*success)->Evaluate(scope);
    if (holds.ok() && *holds) {
      ctx.log().info("success_when holds after {} polls", polls);
      return TaskOutcome::Succeeded({{"status", item["status"]},
                                     {"headers", item["headers"]},
                                     {"body", item["body"]},
                                     {"polls", polls},
                                     {"errors", state.value("errors", 0)}});
    }
    state["last_error"] = holds.ok() ? "success_when does not hold: " + observed()
                                     : "success_when: " + holds.status().message();
    return next();
  }
};

}  // namespace

std::unique_ptr<Task> MakeHttpPollTask() { return std::make_unique<HttpPollTask>(); }

}  // namespace wf
