// tfe_run: one Terraform Enterprise / HCP Terraform run (API v2), driven one HTTP call per
// invocation; between calls the task is pending and holds no thread. See
// docs/tasks/tfe_run.md for the params, outputs, state keys and failure classes.
//
// The calls, in order (each skipped when its result is already in the task state):
//   1. GET  /api/v2/organizations/{org}/workspaces/{name}       (workspace by name)
//   2. POST /api/v2/workspaces/{id}/configuration-versions       (when a config is given)
//   3. PUT  {upload-url}  the .tar.gz of the configuration
//   4. GET  /api/v2/configuration-versions/{id}  until "uploaded"
//   5. POST /api/v2/runs   (or, when a create may have been sent without its answer saved,
//      GET /api/v2/workspaces/{id}/runs to find that run instead of creating a second one)
//   6. GET  /api/v2/runs/{id}  until planned (then 7) or finished
//   7. POST /api/v2/runs/{id}/actions/apply   (unless auto_apply), then back to 6
//   8. GET  /api/v2/workspaces/{id}/current-state-version-outputs   (when state_outputs)
// On cancellation of a started run: POST /api/v2/runs/{id}/actions/cancel (best effort).
#include <algorithm>
#include <string_view>

#include "builtin.h"
#include "config_archive.h"
#include "remote_api.h"

namespace wf {
namespace {

using remote::Reply;
using std::chrono::milliseconds;

constexpr const char* kJsonApi = "application/vnd.api+json";
constexpr std::string_view kParams[] = {
    "address",       "token",      "workspace_id",     "organization", "workspace",
    "directory",     "files",      "variables",        "message",      "auto_apply",
    "state_outputs", "timeout_ms", "poll_interval_ms", "max_retries",  "destroy"};

// Run statuses (https://developer.hashicorp.com/terraform/cloud-docs/api-docs/run).
constexpr std::string_view kFailed[] = {"errored", "discarded", "canceled", "force_canceled"};
constexpr std::string_view kConfirmable[] = {"planned", "cost_estimated", "policy_checked"};
constexpr std::string_view kFinished[] = {"applied", "planned_and_finished"};

template <size_t N>
bool In(const std::string_view (&list)[N], const std::string& s) {
  return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

struct Params {
  std::string address;
  remote::Auth auth;
  std::string workspace_id;
  std::string organization;
  std::string workspace;
  std::optional<std::string> directory;
  std::optional<json> files;
  json variables = json::object();
  std::string message;
  bool auto_apply = false;
  bool state_outputs = false;
  bool destroy = false;
  long timeout_ms = 30000;
  milliseconds poll{5000};
  int max_retries = 10;
  bool has_config() const { return directory || files; }
};

Status CheckParams(const json& params, const std::string& path, bool allow_expressions) {
  if (!params.is_object()) {
    return Status::Invalid(std::string("must be an object, not ") + JsonTypeName(params), path);
  }
  remote::ParamChecker c{params, path, allow_expressions};
  std::vector<Status> checks = {
      c.Unknown(std::vector<std::string_view>(std::begin(kParams), std::end(kParams))),
      c.Url("address", true),
      c.String("token", true),
      c.String("workspace_id"),
      c.String("organization"),
      c.String("workspace"),
      c.String("directory"),
      c.Object("files"),
      c.Object("variables"),
      c.String("message", false, false),
      c.Bool("auto_apply"),
      c.Bool("state_outputs"),
      c.Bool("destroy"),
      c.Int("timeout_ms", 1, 3600000),
      c.Int("poll_interval_ms", 0, 3600000),
      c.Int("max_retries", 0, 1000),
  };
  for (const Status& s : checks) {
    if (!s.ok()) return s;
  }
  const bool by_id = c.Has("workspace_id");
  const bool by_name = c.Has("organization") || c.Has("workspace");
  if (by_id && by_name) {
    return Status::Invalid("give either 'workspace_id' or 'organization' and 'workspace', not both",
                           JsonPathJoin(path, "workspace_id"));
  }
  if (!by_id && !by_name) {
    return Status::Invalid("'workspace_id' (or 'organization' and 'workspace') is required",
                           JsonPathJoin(path, "workspace_id"));
  }
  if (by_name) {
    for (const char* key : {"organization", "workspace"}) {
      if (!c.Has(key)) {
        return Status::Invalid(std::string("'") + key + "' is required with a workspace name",
                               JsonPathJoin(path, key));
      }
    }
  }
  if (c.Has("directory") && c.Has("files")) {
    return Status::Invalid("give either 'directory' or 'files', not both",
                           JsonPathJoin(path, "files"));
  }
  if (auto it = params.find("files"); it != params.end() && it->is_object()) {
    const std::string fpath = JsonPathJoin(path, "files");
    if (it->empty()) return Status::Invalid("must name at least one file", fpath);
    for (const auto& [name, content] : it->items()) {
      if (std::string why = BadArchivePath(name); !why.empty()) {
        return Status::Invalid(why, JsonPathJoin(fpath, name));
      }
      if (!content.is_string() && !c.Expr(content)) {
        return Status::Invalid(std::string("must be the file's text, not ") + JsonTypeName(content),
                               JsonPathJoin(fpath, name));
      }
    }
  }
  if (auto it = params.find("variables"); it != params.end() && it->is_object()) {
    for (const auto& [name, value] : it->items()) {
      if (name.empty()) {
        return Status::Invalid("a variable name must not be empty",
                               JsonPathJoin(path, "variables"));
      }
      if (value.is_null()) {
        return Status::Invalid("must not be null",
                               JsonPathJoin(JsonPathJoin(path, "variables"), name));
      }
    }
  }
  return Status::Ok();
}

Params Extract(const json& p) {
  Params out;
  out.address = p.at("address").get<std::string>();
  out.auth.token = p.at("token").get<std::string>();
  out.workspace_id = p.value("workspace_id", "");
  out.organization = p.value("organization", "");
  out.workspace = p.value("workspace", "");
  if (p.contains("directory")) out.directory = p["directory"].get<std::string>();
  if (p.contains("files")) out.files = p["files"];
  if (p.contains("variables")) out.variables = p["variables"];
  out.message = p.value("message", "");
  out.auto_apply = p.value("auto_apply", false);
  out.state_outputs = p.value("state_outputs", false);
  out.destroy = p.value("destroy", false);
  out.timeout_ms = p.value("timeout_ms", 30000L);
  out.poll = milliseconds(p.value("poll_interval_ms", 5000L));
  out.max_retries = p.value("max_retries", 10);
  return out;
}

// A run variable's value is HCL: strings are quoted, numbers and booleans as they are,
// lists and maps in JSON syntax (which HCL accepts).
std::string HclValue(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Str(const json& doc, const json::json_pointer& ptr) {
  if (!doc.contains(ptr)) return "";
  const json& v = doc.at(ptr);
  return v.is_string() ? v.get<std::string>() : "";
}

// The task state, read once per invocation.
struct State {
  std::string workspace_id;
  std::string cv_id;
  std::string upload_url;
  bool uploaded = false;
  bool cv_ready = false;
  bool run_create_sent = false;
  std::string run_id;
  std::string run_status;
  bool apply_due = false;
  bool apply_sent = false;
};

Status Load(TaskState& st, State* out) {
  auto str = [&](const char* key, std::string* v) -> Status {
    auto r = st.Get(key);
    if (!r.ok()) return r.status();
    if (r->has_value() && (*r)->is_string()) *v = (*r)->get<std::string>();
    return Status::Ok();
  };
  auto flag = [&](const char* key, bool* v) -> Status {
    auto r = st.Get(key);
    if (!r.ok()) return r.status();
    *v = r->has_value() && (*r)->is_boolean() && (*r)->get<bool>();
    return Status::Ok();
  };
  for (Status s :
       {str("workspace_id", &out->workspace_id), str("configuration_version_id", &out->cv_id),
        str("upload_url", &out->upload_url), flag("uploaded", &out->uploaded),
        flag("configuration_ready", &out->cv_ready), flag("run_create_sent", &out->run_create_sent),
        str("run_id", &out->run_id), str("run_status", &out->run_status),
        flag("apply_due", &out->apply_due), flag("apply_sent", &out->apply_sent)}) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

class TfeRunTask : public Task {
 public:
  Status Validate(const json& params, const std::string& path) const override {
    return CheckParams(params, path, /*allow_expressions=*/true);
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    if (Status s = CheckParams(ctx.params(), "", false); !s.ok()) {
      return remote::InvalidParams(s);
    }
    const Params p = Extract(ctx.params());
    State st;
    if (Status s = Load(ctx.state(), &st); !s.ok()) {
      return TaskOutcome::Failed(
          "task state unavailable, not calling Terraform blind: " + s.message(), true);
    }
    if (st.workspace_id.empty()) st.workspace_id = p.workspace_id;

    if (ctx.cancelled()) return Cancel(ctx, p, st);

    if (st.workspace_id.empty()) return FindWorkspace(ctx, p);
    if (p.has_config() && st.cv_id.empty()) return CreateConfigVersion(ctx, p, st);
    if (p.has_config() && !st.uploaded) return Upload(ctx, p, st);
    if (p.has_config() && !st.cv_ready) return WaitConfigVersion(ctx, p, st);
    if (st.run_id.empty()) {
      return st.run_create_sent ? FindRun(ctx, p, st) : CreateRun(ctx, p, st);
    }
    if (st.run_status == "finished") return StateOutputs(ctx, p, st);
    if (st.apply_due && !st.apply_sent) return Apply(ctx, p, st);
    return PollRun(ctx, p, st);
  }

 private:
  HttpRequest Request(const Params& p, const std::string& method, const std::string& path) const {
    HttpRequest req;
    req.method = method;
    req.url = remote::JoinUrl(p.address, path);
    req.timeout_ms = p.timeout_ms;
    req.headers.emplace_back("Accept", kJsonApi);
    remote::AddAuth(&req, p.auth);
    return req;
  }

  static void SetBody(HttpRequest* req, const json& body) {
    req->body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    req->headers.emplace_back("Content-Type", kJsonApi);
  }

  // Common handling of a call's reply: retry later, fail, or go on with `next`.
  // `reset_retries`: a call that got through ends a series of retryable failures, except
  // the lookup between two tries of the same create.
  template <typename Next>
  TaskOutcome Handle(TaskContext& ctx, const Params& p, const Reply& reply, Next next,
                     bool reset_retries = true) const {
    if (reply.kind == Reply::Kind::kRetry)
      return remote::RetryLater(ctx, reply, p.poll, p.max_retries);
    if (reply.kind == Reply::Kind::kFail) return TaskOutcome::Failed(reply.error, false);
    if (Status s = reset_retries ? remote::CallSucceeded(ctx) : Status::Ok(); !s.ok()) {
      return TaskOutcome::Failed("task state unavailable: " + s.message(), true);
    }
    return next(reply.doc);
  }

  TaskOutcome FindWorkspace(TaskContext& ctx, const Params& p) const {
    HttpRequest req = Request(p, "GET",
                              "/api/v2/organizations/" + UrlEncode(p.organization) +
                                  "/workspaces/" + UrlEncode(p.workspace));
    Reply reply =
        remote::Exchange(req, ctx, "looking up workspace " + p.organization + "/" + p.workspace);
    return Handle(ctx, p, reply, [&](const json& doc) {
      std::string id = Str(doc, "/data/id"_json_pointer);
      if (id.empty()) {
        return TaskOutcome::Failed("looking up workspace " + p.organization + "/" + p.workspace +
                                   ": the answer has no data.id");
      }
      if (auto o = remote::SaveStates(
              ctx, {{"workspace_id", id}, {"step", "create_configuration_version"}}))
        return *o;
      ctx.log().info("workspace {}/{} is {}", p.organization, p.workspace, id);
      return TaskOutcome::Pending(milliseconds(0));
    });
  }

  TaskOutcome CreateConfigVersion(TaskContext& ctx, const Params& p, const State& st) const {
    HttpRequest req = Request(
        p, "POST", "/api/v2/workspaces/" + UrlEncode(st.workspace_id) + "/configuration-versions");
    SetBody(&req,
            {{"data",
              {{"type", "configuration-versions"}, {"attributes", {{"auto-queue-runs", false}}}}}});
    Reply reply = remote::Exchange(req, ctx, "creating a configuration version");
    return Handle(ctx, p, reply, [&](const json& doc) {
      std::string id = Str(doc, "/data/id"_json_pointer);
      std::string url = Str(doc, "/data/attributes/upload-url"_json_pointer);
      if (id.empty() || url.empty()) {
        return TaskOutcome::Failed(
            "creating a configuration version: the answer has no data.id or upload-url");
      }
      if (auto o = remote::SaveStates(
              ctx, {{"upload_url", url}, {"configuration_version_id", id}, {"step", "upload"}}))
        return *o;
      ctx.log().info("configuration version {} created", id);
      return TaskOutcome::Pending(milliseconds(0));
    });
  }

  TaskOutcome Upload(TaskContext& ctx, const Params& p, const State& st) const {
    Result<std::string> archive = [&]() -> Result<std::string> {
      if (p.directory) return TarGzFromDirectory(*p.directory);
      std::map<std::string, std::string> files;
      for (const auto& [name, content] : p.files->items()) files[name] = content.get<std::string>();
      return TarGzFromFiles(files);
    }();
    if (!archive.ok()) {
      return TaskOutcome::Failed(
          "building the configuration archive: " + archive.status().message() + " (at " +
          (p.directory ? "params.directory" : "params.files") + ")");
    }
    if (st.upload_url.empty()) {
      return TaskOutcome::Failed("configuration version " + st.cv_id +
                                 ": the upload URL is missing from the task state");
    }
    // The upload URL carries its own authorization: no token is sent to it.
    HttpRequest req;
    req.method = "PUT";
    req.url = st.upload_url;
    req.timeout_ms = std::max(p.timeout_ms, 120000L);
    req.body = std::move(*archive);
    req.headers.emplace_back("Content-Type", "application/octet-stream");
    Reply reply = remote::Exchange(
        std::move(req), ctx, "uploading the configuration of " + st.cv_id, /*expect_json=*/false);
    return Handle(ctx, p, reply, [&](const json&) {
      if (auto o =
              remote::SaveStates(ctx, {{"uploaded", true}, {"step", "wait_configuration_version"}}))
        return *o;
      (void)ctx.state().Erase("upload_url");
      ctx.log().info("configuration uploaded to {}", st.cv_id);
      return TaskOutcome::Pending(milliseconds(0));
    });
  }

  TaskOutcome WaitConfigVersion(TaskContext& ctx, const Params& p, const State& st) const {
    HttpRequest req = Request(p, "GET", "/api/v2/configuration-versions/" + UrlEncode(st.cv_id));
    Reply reply = remote::Exchange(req, ctx, "reading configuration version " + st.cv_id);
    return Handle(ctx, p, reply, [&](const json& doc) {
      std::string status = Str(doc, "/data/attributes/status"_json_pointer);
      if (status == "uploaded") {
        if (auto o =
                remote::SaveStates(ctx, {{"configuration_ready", true}, {"step", "create_run"}}))
          return *o;
        return TaskOutcome::Pending(milliseconds(0));
      }
      if (status == "errored" || status == "archived") {
        std::string why = Str(doc, "/data/attributes/error-message"_json_pointer);
        return TaskOutcome::Failed("configuration version " + st.cv_id + " is " + status +
                                   (why.empty() ? "" : ": " + remote::Printable(why)));
      }
      return TaskOutcome::Pending(p.poll);
    });
  }

  std::string Marker(const TaskContext& ctx) const { return "[wf " + ctx.idempotency_key() + "]"; }

  TaskOutcome CreateRun(TaskContext& ctx, const Params& p, const State& st) const {
    json vars = json::array();
    for (const auto& [name, value] : p.variables.items()) {
      vars.push_back({{"key", name}, {"value", HclValue(value)}});
    }
    std::string message =
        p.message.empty() ? "Queued by workflow request " + ctx.request_id() : p.message;
    json attributes = {{"message", message + " " + Marker(ctx)}};
    if (!vars.empty()) attributes["variables"] = vars;
    if (p.auto_apply) attributes["auto-apply"] = true;
    if (p.destroy) attributes["is-destroy"] = true;
    json relationships = {
        {"workspace", {{"data", {{"type", "workspaces"}, {"id", st.workspace_id}}}}}};
    if (!st.cv_id.empty()) {
      relationships["configuration-version"] = {
          {"data", {{"type", "configuration-versions"}, {"id", st.cv_id}}}};
    }
    // Saved before the call: if the answer is lost (crash, timeout), the next invocation
    // looks for the run instead of creating a second one.
    if (auto o = remote::SaveStates(ctx, {{"run_create_sent", true}, {"step", "create_run"}}))
      return *o;
    HttpRequest req = Request(p, "POST", "/api/v2/runs");
    SetBody(&req,
            {{"data",
              {{"type", "runs"}, {"attributes", attributes}, {"relationships", relationships}}}});
    Reply reply = remote::Exchange(req, ctx, "creating the run in " + st.workspace_id);
    // A refusal (4xx, 429 included), a bad URL or no connection at all means no run was
    // created. After a 5xx, a timeout or an unreadable 2xx the run may exist: the marker
    // stays, and FindRun() looks for it before any new create.
    if ((reply.status >= 400 && reply.status < 500) ||
        reply.error_kind == HttpErrorKind::kConnect || reply.error_kind == HttpErrorKind::kBadUrl) {
      Status s = ctx.state().Erase("run_create_sent");
      if (!s.ok()) return TaskOutcome::Failed("task state unavailable: " + s.message(), true);
    }
    return Handle(ctx, p, reply, [&](const json& doc) { return RunCreated(ctx, p, doc); });
  }

  TaskOutcome RunCreated(TaskContext& ctx, const Params& p, const json& doc) const {
    std::string id = Str(doc, "/data/id"_json_pointer);
    if (id.empty()) return TaskOutcome::Failed("creating the run: the answer has no data.id");
    if (auto o = remote::SaveStates(ctx, {{"run_id", id}, {"step", "wait_run"}})) return *o;
    ctx.log().info("run {} created", id);
    return TaskOutcome::Pending(p.poll);
  }

  // The create call may have gone through without its answer being saved: look for the
  // run by its configuration version (or by the marker in its message).
  TaskOutcome FindRun(TaskContext& ctx, const Params& p, const State& st) const {
    HttpRequest req = Request(
        p, "GET", "/api/v2/workspaces/" + UrlEncode(st.workspace_id) + "/runs?page%5Bsize%5D=100");
    Reply reply = remote::Exchange(req, ctx, "looking for the run created before a restart");
    return Handle(
        ctx, p, reply,
        [&](const json& doc) {
          const json list = doc.is_object() ? doc.value("data", json::array()) : json::array();
          for (const auto& run : list) {
            bool ours =
                st.cv_id.empty()
                    ? Str(run, "/attributes/message"_json_pointer).find(Marker(ctx)) !=
                          std::string::npos
                    : Str(run, "/relationships/configuration-version/data/id"_json_pointer) ==
                          st.cv_id;
            if (ours) {
              ctx.log().info("found the run created before the restart");
              return RunCreated(ctx, p, {{"data", run}});
            }
          }
          // Not created: the next invocation creates it.
          Status s = ctx.state().Erase("run_create_sent");
          if (!s.ok()) return TaskOutcome::Failed("task state unavailable: " + s.message(), true);
          return TaskOutcome::Pending(milliseconds(0));
        },
        /*reset_retries=*/false);
  }

  TaskOutcome PollRun(TaskContext& ctx, const Params& p, const State& st) const {
    HttpRequest req = Request(p, "GET", "/api/v2/runs/" + UrlEncode(st.run_id));
    Reply reply = remote::Exchange(req, ctx, "reading run " + st.run_id);
    // Cancelled while the status was being read: cancel now rather than never (the engine
    // does not invoke a waiting task again once its request is cancelled).
    if (ctx.cancelled()) return Cancel(ctx, p, st);
    return Handle(ctx, p, reply, [&](const json& doc) {
      std::string status = Str(doc, "/data/attributes/status"_json_pointer);
      if (status.empty())
        return TaskOutcome::Failed("reading run " + st.run_id + ": no status in the answer");
      if (status != st.run_status) {
        ctx.log().info("run {} is {}", st.run_id, status);
        if (auto o = remote::SaveStates(ctx, {{"run_status", status}})) return *o;
      }
      if (In(kFailed, status)) {
        return TaskOutcome::Failed("run " + st.run_id + " ended " + status, false);
      }
      if (In(kConfirmable, status) && !p.auto_apply && !st.apply_sent) {
        const auto confirmable_ptr = "/data/attributes/actions/is-confirmable"_json_pointer;
        if (!doc.contains(confirmable_ptr) || doc.at(confirmable_ptr) == true) {
          if (auto o = remote::SaveStates(ctx, {{"apply_due", true}, {"step", "apply"}})) return *o;
          return TaskOutcome::Pending(milliseconds(0));
        }
      }
      if (In(kFinished, status)) {
        const auto changes_ptr = "/data/attributes/has-changes"_json_pointer;
        bool has_changes = doc.contains(changes_ptr) && doc.at(changes_ptr).is_boolean()
                               ? doc.at(changes_ptr).get<bool>()
                               : status == "applied";
        if (auto o = remote::SaveStates(ctx, {{"final_status", status},
                                              {"has_changes", has_changes},
                                              {"run_status", "finished"},
                                              {"step", "state_outputs"}})) {
          return *o;
        }
        if (p.state_outputs) return TaskOutcome::Pending(milliseconds(0));
        return Finish(ctx, st, json());
      }
      return TaskOutcome::Pending(p.poll);
    });
  }

  // After a poll read the run as planned and confirmable.
  TaskOutcome Apply(TaskContext& ctx, const Params& p, const State& st) const {
    HttpRequest req = Request(p, "POST", "/api/v2/runs/" + UrlEncode(st.run_id) + "/actions/apply");
    SetBody(&req, {{"comment", "Applied by workflow request " + ctx.request_id()}});
    Reply reply = remote::Exchange(req, ctx, "applying run " + st.run_id, /*expect_json=*/false);
    // 409: the run is past the point of confirmation (an earlier apply went through).
    if (reply.kind == Reply::Kind::kFail && reply.status == 409) reply.kind = Reply::Kind::kOk;
    return Handle(ctx, p, reply, [&](const json&) {
      if (auto o = remote::SaveStates(ctx, {{"apply_sent", true}, {"step", "wait_run"}})) return *o;
      ctx.log().info("run {} apply confirmed", st.run_id);
      return TaskOutcome::Pending(p.poll);
    });
  }

  TaskOutcome StateOutputs(TaskContext& ctx, const Params& p, const State& st) const {
    if (!p.state_outputs) return Finish(ctx, st, json());
    HttpRequest req = Request(
        p, "GET",
        "/api/v2/workspaces/" + UrlEncode(st.workspace_id) + "/current-state-version-outputs");
    Reply reply = remote::Exchange(req, ctx, "reading the state outputs of " + st.workspace_id);
    return Handle(ctx, p, reply, [&](const json& doc) {
      json outputs = json::object();
      const json list = doc.is_object() ? doc.value("data", json::array()) : json::array();
      for (const auto& o : list) {
        std::string name = Str(o, "/attributes/name"_json_pointer);
        if (name.empty()) continue;
        const auto value_ptr = "/attributes/value"_json_pointer;
        outputs[name] = o.contains(value_ptr) ? o.at(value_ptr) : json();
      }
      return Finish(ctx, st, outputs);
    });
  }

  TaskOutcome Finish(TaskContext& ctx, const State& st, json state_outputs) const {
    auto get = [&](const char* key) {
      auto r = ctx.state().Get(key);
      return r.ok() && r->has_value() ? **r : json();
    };
    json outputs = {{"run_id", st.run_id},
                    {"status", get("final_status")},
                    {"has_changes", get("has_changes")},
                    {"workspace_id", st.workspace_id},
                    {"configuration_version_id", st.cv_id.empty() ? json() : json(st.cv_id)}};
    if (!state_outputs.is_null()) outputs["outputs"] = std::move(state_outputs);
    ctx.log().info("run {} finished: {}", st.run_id, outputs["status"].dump());
    return TaskOutcome::Succeeded(std::move(outputs));
  }

  TaskOutcome Cancel(TaskContext& ctx, const Params& p, const State& st) const {
    if (st.run_id.empty() || st.run_status == "finished" || In(kFailed, st.run_status)) {
      return TaskOutcome::Failed("cancelled");
    }
    HttpRequest req =
        Request(p, "POST", "/api/v2/runs/" + UrlEncode(st.run_id) + "/actions/cancel");
    SetBody(&req, {{"comment", "Cancelled with workflow request " + ctx.request_id()}});
    Reply reply = remote::Exchange(req, ctx, "cancelling run " + st.run_id, false);
    std::string result =
        reply.kind == Reply::Kind::kOk ? "asked Terraform to cancel run " + st.run_id : reply.error;
    ctx.log().info("cancelled: {}", result);
    return TaskOutcome::Failed("cancelled; " + result);
  }
};

}  // namespace

std::unique_ptr<Task> MakeTfeRunTask() { return std::make_unique<TfeRunTask>(); }

}  // namespace wf
