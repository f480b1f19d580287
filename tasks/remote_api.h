// What the modules that drive a remote job API (tfe_run, awx_job) share: URL joining, auth
// headers, bounded JSON parsing, the classification of one call's result, the backoff of
// calls that may pass on a later try, and param checks that name the param's path.
//
// All functions are pure or act only on the TaskContext they are given: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wf/http_client.h"
#include "wf/task.h"

namespace wf::remote {

// Longest JSON response a module parses; a longer one fails the call.
constexpr size_t kMaxJsonBytes = 4 << 20;
// Longest remote error text quoted in a task error.
constexpr size_t kMaxErrorText = 512;

// `base` + `path` with exactly one '/' between them ("https://h/" + "/api" -> "https://h/api").
std::string JoinUrl(std::string_view base, std::string_view path);

// Credentials for one remote API: a bearer token, or a user and a password (HTTP basic).
struct Auth {
  std::string token;
  std::string user;
  std::string password;
};
// Adds the Authorization header (nothing when `auth` is empty). The header's value is
// never logged or put in an error message.
void AddAuth(HttpRequest* req, const Auth& auth);
std::string Base64(std::string_view bytes);

// Parses a JSON body of at most `limit` bytes (nesting depth bounded too).
Result<json> ParseJson(std::string_view body, size_t limit = kMaxJsonBytes);

// The human part of an API error document: JSON:API `errors[].title/detail` (TFE), AWX's
// `detail` or field errors (`{"extra_vars": ["..."]}`), else the raw text; bounded and
// printable.
std::string ErrorText(std::string_view body);

// Up to `limit` bytes of `text`, control characters replaced, "..." when cut.
std::string Printable(std::string_view text, size_t limit = kMaxErrorText);

// One call's result, classified.
struct Reply {
  enum class Kind {
    kOk,     // 2xx; `doc` holds the parsed body (null when empty)
    kRetry,  // connection error, timeout, 429 or 5xx: try the same call again later
    kFail,   // anything else: the call cannot succeed as it is
  };
  Kind kind = Kind::kOk;
  long status = 0;  // the HTTP status, 0 when there was no answer
  json doc;
  std::string body;  // the raw 2xx body when the call did not expect JSON
  HttpErrorKind error_kind = HttpErrorKind::kNone;  // when there was no answer
  std::string error;  // for kRetry and kFail: what failed, with the remote error text
};

// Performs `req` (its timeout cut to the task's deadline) and classifies the result.
// `what` names the call in errors ("creating the run"). A 2xx body that is not JSON is
// kFail unless `expect_json` is false.
Reply Exchange(HttpRequest req, const TaskContext& ctx, const std::string& what,
               bool expect_json = true);

// A kRetry reply: counts consecutive retries in the task state key "retries" and returns
// pending after a backoff of `base` * 2^n (at most one minute), or a retryable failure
// once `max_retries` retries in a row did not help.
TaskOutcome RetryLater(TaskContext& ctx, const Reply& reply, std::chrono::milliseconds base,
                       int max_retries);
// Clears the retry count after a call got through. Returns the state error, if any.
Status CallSucceeded(TaskContext& ctx);

// Sets a state key, turning a failure into the outcome to return.
// Usage: if (auto o = SaveState(ctx, "k", v)) return *o;
std::optional<TaskOutcome> SaveState(TaskContext& ctx, const std::string& key, const json& value);
// Saves several keys in order; the first failure is the outcome.
std::optional<TaskOutcome> SaveStates(TaskContext& ctx,
                                      std::initializer_list<std::pair<const char*, json>> kv);

// "/a/b" -> "params.a.b" for run-time messages.
std::string ParamPath(std::string_view pointer);
// "invalid params: <message> (at params.x)".
TaskOutcome InvalidParams(const Status& s);

// Param checks for Validate() (expressions pass any type check when `allow_expressions`).
struct ParamChecker {
  const json& params;
  std::string path;
  bool allow_expressions;

  bool Expr(const json& v) const { return allow_expressions && IsExpression(v); }
  Status Unknown(const std::vector<std::string_view>& known) const;
  Status String(const char* key, bool required = false, bool non_empty = true) const;
  Status Bool(const char* key) const;
  Status Object(const char* key) const;
  // An integer in [lo, hi].
  Status Int(const char* key, int64_t lo, int64_t hi) const;
  // An http:// or https:// URL.
  Status Url(const char* key, bool required) const;
  bool Has(const char* key) const { return params.contains(key); }
};

}  // namespace wf::remote
