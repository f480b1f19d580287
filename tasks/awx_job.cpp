// awx_job: launch an AWX / Ansible Tower job template once, then poll the job until it
// ends, one HTTP call per invocation and no thread held in between. See
// docs/tasks/awx_job.md for the params, outputs, state keys and failure classes.
//
// The calls, in order (each skipped when its result is already in the task state):
//   1. GET  /api/v2/job_templates/?name={name}        (template by name)
//   2. POST /api/v2/job_templates/{id}/launch/         -> job id, saved before waiting
//   3. GET  /api/v2/jobs/{job}/                        until the job has finished
//   4. GET  /api/v2/jobs/{job}/stdout/?format=txt      (a failed job: its last lines)
// On cancellation of a launched job: POST /api/v2/jobs/{job}/cancel/ (best effort).
#include <algorithm>
#include <string_view>

#include "builtin.h"
#include "remote_api.h"

namespace wf {
namespace {

using remote::Reply;
using std::chrono::milliseconds;

constexpr std::string_view kParams[] = {
    "address",      "token",       "username",         "password",    "job_template_id",
    "job_template", "extra_vars",  "inventory",        "limit",       "job_tags",
    "skip_tags",    "credentials", "scm_branch",       "job_type",    "diff_mode",
    "verbosity",    "timeout_ms",  "poll_interval_ms", "max_retries", "stdout_lines"};
// Job statuses (AWX API v2, UnifiedJob.status).
constexpr std::string_view kFailed[] = {"failed", "error", "canceled"};
constexpr size_t kMaxStdoutBytes = 4096;

bool In(const std::string_view (&list)[3], const std::string& s) {
  return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

struct Params {
  std::string address;
  remote::Auth auth;
  std::string template_id;
  std::string template_name;
  json launch = json::object();
  long timeout_ms = 30000;
  milliseconds poll{5000};
  int max_retries = 10;
  int stdout_lines = 20;
};

bool IsId(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() > 0;
  if (v.is_number_integer()) return v.get<int64_t>() > 0;
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return !s.empty() && s.size() < 20 && std::all_of(s.begin(), s.end(), ::isdigit) && s != "0" &&
         s.front() != '0';
}

std::string IdText(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// A string field of an answer; "" when absent, null or not a string.
std::string Text(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

Status CheckParams(const json& params, const std::string& path, bool allow_expressions) {
  if (!params.is_object()) {
    return Status::Invalid(std::string("must be an object, not ") + JsonTypeName(params), path);
  }
  remote::ParamChecker c{params, path, allow_expressions};
  std::vector<Status> checks = {
      c.Unknown(std::vector<std::string_view>(std::begin(kParams), std::end(kParams))),
      c.Url("address", true),
      c.String("token"),
      c.String("username"),
      c.String("password", false, false),
      c.String("job_template"),
      c.Object("extra_vars"),
      c.String("limit", false, false),
      c.String("job_tags", false, false),
      c.String("skip_tags", false, false),
      c.String("scm_branch", false, false),
      c.Bool("diff_mode"),
      c.Int("verbosity", 0, 5),
      c.Int("timeout_ms", 1, 3600000),
      c.Int("poll_interval_ms", 0, 3600000),
      c.Int("max_retries", 0, 1000),
      c.Int("stdout_lines", 0, 1000),
  };
  for (const Status& s : checks) {
    if (!s.ok()) return s;
  }
  if (c.Has("token") && (c.Has("username") || c.Has("password"))) {
    return Status::Invalid("give either 'token' or 'username' and 'password', not both",
                           JsonPathJoin(path, "token"));
  }
  if (!c.Has("token") && !c.Has("username")) {
    return Status::Invalid("'token' (or 'username' and 'password') is required",
                           JsonPathJoin(path, "token"));
  }
  if (c.Has("username") && !c.Has("password")) {
    return Status::Invalid("'password' is required with 'username'",
                           JsonPathJoin(path, "password"));
  }
  const bool by_id = c.Has("job_template_id");
  if (by_id == c.Has("job_template")) {
    return Status::Invalid("give exactly one of 'job_template_id' and 'job_template' (a name)",
                           JsonPathJoin(path, "job_template_id"));
  }
  if (by_id && !c.Expr(params["job_template_id"]) && !IsId(params["job_template_id"])) {
    return Status::Invalid("must be a job template id (a positive integer)",
                           JsonPathJoin(path, "job_template_id"));
  }
  if (auto it = params.find("inventory"); it != params.end() && !c.Expr(*it) && !IsId(*it)) {
    return Status::Invalid("must be an inventory id (a positive integer)",
                           JsonPathJoin(path, "inventory"));
  }
  if (auto it = params.find("credentials"); it != params.end() && !c.Expr(*it)) {
    if (!it->is_array()) {
      return Status::Invalid("must be an array of credential ids",
                             JsonPathJoin(path, "credentials"));
    }
    for (size_t i = 0; i < it->size(); ++i) {
      if (!c.Expr((*it)[i]) && !IsId((*it)[i])) {
        return Status::Invalid("must be a credential id (a positive integer)",
                               JsonPathJoin(JsonPathJoin(path, "credentials"), i));
      }
    }
  }
  if (auto it = params.find("job_type");
      it != params.end() && !c.Expr(*it) && *it != "run" && *it != "check") {
    return Status::Invalid("must be \"run\" or \"check\"", JsonPathJoin(path, "job_type"));
  }
  return Status::Ok();
}

Params Extract(const json& p) {
  Params out;
  out.address = p.at("address").get<std::string>();
  out.auth.token = p.value("token", "");
  out.auth.user = p.value("username", "");
  out.auth.password = p.value("password", "");
  if (p.contains("job_template_id")) out.template_id = IdText(p["job_template_id"]);
  out.template_name = p.value("job_template", "");
  for (const char* key : {"extra_vars", "limit", "job_tags", "skip_tags", "scm_branch", "job_type",
                          "diff_mode", "verbosity"}) {
    if (p.contains(key)) out.launch[key] = p[key];
  }
  if (p.contains("inventory")) out.launch["inventory"] = std::stoll(IdText(p["inventory"]));
  if (p.contains("credentials")) {
    json ids = json::array();
    for (const auto& v : p["credentials"]) ids.push_back(std::stoll(IdText(v)));
    out.launch["credentials"] = ids;
  }
  out.timeout_ms = p.value("timeout_ms", 30000L);
  out.poll = milliseconds(p.value("poll_interval_ms", 5000L));
  out.max_retries = p.value("max_retries", 10);
  out.stdout_lines = p.value("stdout_lines", 20);
  return out;
}

// The last `n` lines of `text`, at most kMaxStdoutBytes of them, printable.
std::string LastLines(std::string_view text, int n) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  size_t start = text.size();
  int lines = 0;
  while (start > 0) {
    size_t nl = text.rfind('\n', start - 1);
    if (nl == std::string_view::npos) {
      start = 0;
      break;
    }
    if (++lines == n) {
      start = nl + 1;
      break;
    }
    start = nl;
  }
  std::string_view tail = text.substr(start);
  if (tail.size() > kMaxStdoutBytes) tail = tail.substr(tail.size() - kMaxStdoutBytes);
  std::string out;
  for (char c : tail) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 && c != '\n' && c != '\t') || u == 0x7f ? ' ' : c;
  }
  if (!IsValidUtf8(out)) {
    for (char& c : out) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  return out;
}

struct State {
  std::string template_id;
  bool launch_sent = false;
  json job_id;  // null until launched
  std::string job_status;
  json failure;  // the failed job's details, before its stdout is read
};

Status Load(TaskState& st, State* out) {
  auto get = [&](const char* key, json* v) -> Status {
    auto r = st.Get(key);
    if (!r.ok()) return r.status();
    if (r->has_value()) *v = **r;
    return Status::Ok();
  };
  json template_id, launch_sent, job_status;
  for (Status s : {get("job_template_id", &template_id), get("launch_sent", &launch_sent),
                   get("job_id", &out->job_id), get("job_status", &job_status),
                   get("failure", &out->failure)}) {
    if (!s.ok()) return s;
  }
  if (!template_id.is_null()) out->template_id = IdText(template_id);
  out->launch_sent = launch_sent == true;
  if (job_status.is_string()) out->job_status = job_status.get<std::string>();
  return Status::Ok();
}

class AwxJobTask : public Task {
 public:
  Status Validate(const json& params, const std::string& path) const override {
    return CheckParams(params, path, /*allow_expressions=*/true);
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    if (Status s = CheckParams(ctx.params(), "", false); !s.ok()) return remote::InvalidParams(s);
    const Params p = Extract(ctx.params());
    State st;
    if (Status s = Load(ctx.state(), &st); !s.ok()) {
      return TaskOutcome::Failed("task state unavailable, not calling AWX blind: " + s.message(),
                                 true);
    }
    if (st.template_id.empty()) st.template_id = p.template_id;
    if (ctx.cancelled()) return Cancel(ctx, p, st);
    if (st.template_id.empty()) return FindTemplate(ctx, p);
    if (st.job_id.is_null()) {
      if (st.launch_sent) {
        // A launch went out and its answer (the job id) was lost. AWX has no idempotency
        // key, so launching again could run the playbook twice: stop here instead.
        return TaskOutcome::Failed(
            "a launch of job template " + st.template_id +
                " was sent but its answer was lost (timeout or restart); not launching again "
                "(look for the job in AWX, then re-run the request if it did not start)",
            false);
      }
      return Launch(ctx, p, st);
    }
    if (!st.failure.is_null()) return FailWithStdout(ctx, p, st);
    return Poll(ctx, p, st);
  }

 private:
  HttpRequest Request(const Params& p, const std::string& method, const std::string& path) const {
    HttpRequest req;
    req.method = method;
    req.url = remote::JoinUrl(p.address, path);
    req.timeout_ms = p.timeout_ms;
    req.headers.emplace_back("Accept", "application/json");
    remote::AddAuth(&req, p.auth);
    return req;
  }

  template <typename Next>
  TaskOutcome Handle(TaskContext& ctx, const Params& p, const Reply& reply, Next next) const {
    if (reply.kind == Reply::Kind::kRetry) {
      return remote::RetryLater(ctx, reply, p.poll, p.max_retries);
    }
    if (reply.kind == Reply::Kind::kFail) return TaskOutcome::Failed(reply.error, false);
    if (Status s = remote::CallSucceeded(ctx); !s.ok()) {
      return TaskOutcome::Failed("task state unavailable: " + s.message(), true);
    }
    return next(reply.doc);
  }

  TaskOutcome FindTemplate(TaskContext& ctx, const Params& p) const {
    HttpRequest req =
        Request(p, "GET", "/api/v2/job_templates/?name=" + UrlEncode(p.template_name));
    Reply reply = remote::Exchange(req, ctx, "looking up job template '" + p.template_name + "'");
    return Handle(ctx, p, reply, [&](const json& doc) {
      const json results = doc.is_object() ? doc.value("results", json::array()) : json::array();
      std::vector<json> matches;
      for (const auto& t : results) {
        if (t.is_object() && Text(t, "name") == p.template_name && IsId(t.value("id", json()))) {
          matches.push_back(t["id"]);
        }
      }
      if (matches.size() != 1) {
        return TaskOutcome::Failed(
            matches.empty()
                ? "no job template named '" + p.template_name + "' (at params.job_template)"
                : std::to_string(matches.size()) + " job templates are named '" + p.template_name +
                      "'; give params.job_template_id instead");
      }
      if (auto o = remote::SaveStates(ctx, {{"job_template_id", matches[0]}, {"step", "launch"}}))
        return *o;
      ctx.log().info("job template '{}' is {}", p.template_name, IdText(matches[0]));
      return TaskOutcome::Pending(milliseconds(0));
    });
  }

  TaskOutcome Launch(TaskContext& ctx, const Params& p, const State& st) const {
    // Saved before the call: a lost answer must not lead to a second launch.
    if (auto o = remote::SaveStates(ctx, {{"launch_sent", true}, {"step", "launch"}})) return *o;
    HttpRequest req =
        Request(p, "POST", "/api/v2/job_templates/" + UrlEncode(st.template_id) + "/launch/");
    req.body = p.launch.dump(-1, ' ', false, json::error_handler_t::replace);
    req.headers.emplace_back("Content-Type", "application/json");
    Reply reply = remote::Exchange(req, ctx, "launching job template " + st.template_id);
    // An HTTP error answer, or no connection at all, means nothing was launched.
    bool not_launched = reply.status >= 400 || reply.error_kind == HttpErrorKind::kConnect ||
                        reply.error_kind == HttpErrorKind::kBadUrl;
    if (not_launched) {
      Status s = ctx.state().Erase("launch_sent");
      if (!s.ok()) return TaskOutcome::Failed("task state unavailable: " + s.message(), true);
    }
    return Handle(ctx, p, reply, [&](const json& doc) {
      json id = doc.is_object() ? doc.value("job", doc.value("id", json())) : json();
      if (!IsId(id)) {
        return TaskOutcome::Failed("launching job template " + st.template_id +
                                   ": the answer has no job id");
      }
      if (auto o = remote::SaveStates(ctx, {{"job_id", id}, {"step", "wait_job"}})) return *o;
      ctx.log().info("job template {} launched job {}", st.template_id, IdText(id));
      return TaskOutcome::Pending(p.poll);
    });
  }

  TaskOutcome Poll(TaskContext& ctx, const Params& p, const State& st) const {
    const std::string job = IdText(st.job_id);
    Reply reply = remote::Exchange(Request(p, "GET", "/api/v2/jobs/" + UrlEncode(job) + "/"), ctx,
                                   "reading job " + job);
    // Cancelled while the status was being read: cancel now rather than never (the engine
    // does not invoke a waiting task again once its request is cancelled).
    if (ctx.cancelled()) return Cancel(ctx, p, st);
    return Handle(ctx, p, reply, [&](const json& doc) {
      std::string status = Text(doc, "status");
      if (status.empty())
        return TaskOutcome::Failed("reading job " + job + ": no status in the answer");
      if (status != st.job_status) {
        ctx.log().info("job {} is {}", job, status);
        if (auto o = remote::SaveStates(ctx, {{"job_status", status}})) return *o;
      }
      if (status == "successful") {
        json artifacts = doc.value("artifacts", json::object());
        return TaskOutcome::Succeeded({{"job_id", st.job_id},
                                       {"status", status},
                                       {"artifacts", artifacts},
                                       {"elapsed", doc.value("elapsed", json())},
                                       {"job_template_id", std::stoll(st.template_id)}});
      }
      if (In(kFailed, status)) {
        json failure = {{"status", status},
                        {"job_explanation", Text(doc, "job_explanation")},
                        {"result_traceback", Text(doc, "result_traceback")}};
        if (p.stdout_lines == 0) return JobFailed(st, failure, "");
        if (auto o = remote::SaveStates(ctx, {{"failure", failure}, {"step", "read_stdout"}}))
          return *o;
        return TaskOutcome::Pending(milliseconds(0));
      }
      return TaskOutcome::Pending(p.poll);
    });
  }

  TaskOutcome FailWithStdout(TaskContext& ctx, const Params& p, const State& st) const {
    const std::string job = IdText(st.job_id);
    HttpRequest req = Request(p, "GET", "/api/v2/jobs/" + UrlEncode(job) + "/stdout/?format=txt");
    req.headers[0].second = "text/plain";
    Reply reply = remote::Exchange(req, ctx, "reading the output of job " + job, false);
    if (reply.kind == Reply::Kind::kRetry) {
      TaskOutcome o = remote::RetryLater(ctx, reply, p.poll, p.max_retries);
      if (o.kind == TaskOutcome::Kind::kPending) return o;
    }
    if (reply.kind != Reply::Kind::kOk) {
      return JobFailed(st, st.failure, "(its output could not be read: " + reply.error + ")");
    }
    return JobFailed(st, st.failure, LastLines(reply.body, p.stdout_lines));
  }

  TaskOutcome JobFailed(const State& st, const json& failure, const std::string& tail) const {
    std::string error = "job " + IdText(st.job_id) + " of job template " + st.template_id +
                        " ended " + failure.value("status", "failed");
    for (const char* key : {"job_explanation", "result_traceback"}) {
      std::string text = failure.value(key, "");
      if (!text.empty()) error += "; " + std::string(key) + ": " + remote::Printable(text);
    }
    if (!tail.empty()) error += "\n" + tail;
    return TaskOutcome::Failed(error, false);
  }

  TaskOutcome Cancel(TaskContext& ctx, const Params& p, const State& st) const {
    if (st.job_id.is_null() || st.job_status == "successful" || In(kFailed, st.job_status)) {
      return TaskOutcome::Failed("cancelled");
    }
    const std::string job = IdText(st.job_id);
    Reply reply =
        remote::Exchange(Request(p, "POST", "/api/v2/jobs/" + UrlEncode(job) + "/cancel/"), ctx,
                         "cancelling job " + job, false);
    std::string result =
        reply.kind == Reply::Kind::kOk ? "asked AWX to cancel job " + job : reply.error;
    ctx.log().info("cancelled: {}", result);
    return TaskOutcome::Failed("cancelled; " + result);
  }
};

}  // namespace

std::unique_ptr<Task> MakeAwxJobTask() { return std::make_unique<AwxJobTask>(); }

}  // namespace wf
