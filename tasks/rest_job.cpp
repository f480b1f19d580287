// rest_job: start a long job over REST, then poll it until it ends — the pattern every
// long task follows to survive restarts without starting its job twice.
//
// Invocation 1: POST `create.url` (sending the task's Idempotency-Key), read the job id
// from the response at `create.job_id` (a JSON pointer), save it in the task state as
// "job_id", and return pending. Every later invocation — after a recheck delay, a crash,
// or another engine taking over — finds "job_id" in the state and only polls
// `poll.url` (where "{job_id}" is replaced by the id), until the value at `poll.status`
// is one of `poll.success` (succeeded) or `poll.failure` (failed). No thread is held in
// between. If the task state cannot be read, the task fails retryably rather than risk
// creating the job again.
//
// Params:
//   create: {method = "POST", url, body?, headers?, job_id: "/pointer"}
//   poll:   {url, headers?, status: "/pointer", success: [values], failure: [values],
//            interval_ms = 1000}
//   cancel: {method = "POST", url, headers?, body?}   optional: when the request is
//            cancelled (or times out) while the job runs, the engine invokes the task once
//            more with ctx.cancelled() set, and the task sends this call ("{job_id}" in
//            the url is replaced) so the remote job stops too
//   outputs: {name: "/pointer into the final poll response"}
//   timeout_ms = 30000 per call
// Outputs: job_id, job_status, and the named outputs.
#include <spdlog/spdlog.h>

#include "builtin.h"
#include "wf/http_client.h"

namespace wf {
namespace {

Status CheckObject(const json& params, const char* key, const std::string& path, bool required) {
  auto it = params.find(key);
  if (it == params.end()) {
    return required
               ? Status::Invalid(std::string("'") + key + "' is required", JsonPathJoin(path, key))
               : Status::Ok();
  }
  if (!it->is_object() && !IsExpression(*it)) {
    return Status::Invalid("must be an object", JsonPathJoin(path, key));
  }
  return Status::Ok();
}

Status CheckPointer(const json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end())
    return Status::Invalid(std::string("'") + key + "' is required", JsonPathJoin(path, key));
  if (!it->is_string() || (!it->get<std::string>().empty() && it->get<std::string>()[0] != '/')) {
    return Status::Invalid("must be a JSON pointer such as \"/id\"", JsonPathJoin(path, key));
  }
  return Status::Ok();
}

Result<json> At(const json& doc, const std::string& pointer, const char* what) {
  try {
    return doc.at(json::json_pointer(pointer));
  } catch (const json::exception&) {
    return Status::Invalid(std::string(what) + ": nothing at " + pointer + " in the response");
  }
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

HttpRequest MakeRequest(const json& spec, const std::string& method, const std::string& url,
                        long timeout_ms) {
  HttpRequest req;
  req.method = method;
  req.url = url;
  req.timeout_ms = timeout_ms;
  if (auto h = spec.find("headers"); h != spec.end() && h->is_object()) {
    for (const auto& [name, value] : h->items()) {
      req.headers.emplace_back(name, value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  return req;
}

// Failure of one call: connection trouble, timeouts, 429 and 5xx may pass.
TaskOutcome CallFailed(const std::string& what, const Result<HttpResponse>& r) {
  if (!r.ok()) {
    bool retryable = r.status().code() == StatusCode::kUnavailable ||
                     r.status().code() == StatusCode::kDeadlineExceeded;
    return TaskOutcome::Failed(what + ": " + r.status().message(), retryable);
  }
  bool retryable = r->status == 429 || r->status >= 500;
  return TaskOutcome::Failed(
      what + ": HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 512), retryable);
}

class RestJobTask : public Task {
 public:
  // The request was cancelled while the job runs: ask the remote side to stop it too.
  static TaskOutcome CancelJob(TaskContext& ctx, const std::string& id_text, long timeout_ms) {
    auto c = ctx.params().find("cancel");
    if (c == ctx.params().end() || !c->is_object()) {
      return TaskOutcome::Failed("cancelled; job " + id_text + " is left running (no cancel call)");
    }
    HttpRequest req = MakeRequest(*c, c->value("method", "POST"),
                                  Replace(c->at("url"), "{job_id}", id_text), timeout_ms);
    req.headers.emplace_back("X-Request-Id", ctx.request_id());
    if (auto b = c->find("body"); b != c->end()) {
      req.body = b->is_string() ? b->get<std::string>() : b->dump();
      req.headers.emplace_back("Content-Type", "application/json");
    }
    auto r = HttpCall(req);
    if (!r.ok() || r->status < 200 || r->status >= 300) {
      TaskOutcome failed = CallFailed("cancelling job " + id_text, r);
      ctx.log().warn("{}", failed.error);
      return failed;
    }
    ctx.log().info("job {} cancelled (HTTP {})", id_text, r->status);
    return TaskOutcome::Failed("cancelled; job " + id_text + " cancelled");
  }

  Status Validate(const json& params, const std::string& path) const override {
    for (const auto& [key, _] : params.items()) {
      if (key != "create" && key != "poll" && key != "outputs" && key != "timeout_ms" &&
          key != "cancel") {
        return Status::Invalid("unknown param", JsonPathJoin(path, key));
      }
    }
    for (auto [key, required] :
         {std::pair{"create", true}, {"poll", true}, {"outputs", false}, {"cancel", false}}) {
      Status s = CheckObject(params, key, path, required);
      if (!s.ok()) return s;
    }
    const json& create = params["create"];
    const json& poll = params["poll"];
    if (create.is_object()) {
      Status s = RequireString(create, "url", path + "/create");
      if (s.ok()) s = CheckPointer(create, "job_id", path + "/create");
      if (!s.ok()) return s;
    }
    if (poll.is_object()) {
      Status s = RequireString(poll, "url", path + "/poll");
      if (s.ok()) s = CheckPointer(poll, "status", path + "/poll");
      if (!s.ok()) return s;
      for (const char* key : {"success", "failure"}) {
        auto it = poll.find(key);
        if (it == poll.end() || (!it->is_array() && !IsExpression(*it))) {
          return Status::Invalid("must be an array of status values",
                                 JsonPathJoin(path + "/poll", key));
        }
      }
      if (auto it = poll.find("interval_ms");
          it != poll.end() && !IsExpression(*it) &&
          (!it->is_number_integer() || it->get<int64_t>() < 0)) {
        return Status::Invalid("must be a non-negative integer", path + "/poll/interval_ms");
      }
    }
    if (auto c = params.find("cancel"); c != params.end() && c->is_object()) {
      Status s = RequireString(*c, "url", path + "/cancel");
      if (!s.ok()) return s;
    }
    if (auto it = params.find("outputs"); it != params.end() && it->is_object()) {
      for (const auto& [name, _] : it->items()) {
        Status s = CheckPointer(*it, name.c_str(), path + "/outputs");
        if (!s.ok()) return s;
      }
    }
    return Status::Ok();
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    const json& p = ctx.params();
    const json& create = p.at("create");
    const json& poll = p.at("poll");
    const long timeout_ms = p.value("timeout_ms", 30000);
    const auto interval = std::chrono::milliseconds(poll.value("interval_ms", 1000));

    auto saved = ctx.state().Get("job_id");
    if (!saved.ok()) {
      return TaskOutcome::Failed(
          "task state unavailable, not creating the job blind: " + saved.status().message(), true);
    }
    if (!saved->has_value()) {
      HttpRequest req =
          MakeRequest(create, create.value("method", "POST"), create.at("url"), timeout_ms);
      req.headers.emplace_back("Idempotency-Key", ctx.idempotency_key());
      req.headers.emplace_back("X-Request-Id", ctx.request_id());
      req.headers.emplace_back("X-Trace-Id", ctx.trace_id());
      if (auto b = create.find("body"); b != create.end()) {
        req.body = b->is_string() ? b->get<std::string>() : b->dump();
        req.headers.emplace_back("Content-Type", "application/json");
      }
      auto r = HttpCall(req);
      if (!r.ok() || r->status < 200 || r->status >= 300) return CallFailed("creating the job", r);
      json doc = json::parse(r->body, nullptr, false);
      if (doc.is_discarded())
        return TaskOutcome::Failed("creating the job: the response is not JSON");
      auto id = At(doc, create.at("job_id"), "job id");
      if (!id.ok()) return TaskOutcome::Failed("creating the job: " + id.status().message());
      Status s = ctx.state().Set("job_id", *id);
      if (!s.ok()) {
        // Created, but the id could not be saved: a later invocation would create again.
        // The Idempotency-Key lets the remote side answer a repeat with the same job.
        return TaskOutcome::Failed("job created but its id could not be saved: " + s.message(),
                                   true);
      }
      ctx.log().info("job {} created", id->dump());
      return TaskOutcome::Pending(interval);
    }
    const json job_id = **saved;
    const std::string id_text = job_id.is_string() ? job_id.get<std::string>() : job_id.dump();
    if (ctx.cancelled()) return CancelJob(ctx, id_text, timeout_ms);
    HttpRequest req =
        MakeRequest(poll, "GET", Replace(poll.at("url"), "{job_id}", id_text), timeout_ms);
    req.headers.emplace_back("X-Request-Id", ctx.request_id());
    auto r = HttpCall(req);
    if (!r.ok() || r->status < 200 || r->status >= 300)
      return CallFailed("polling job " + id_text, r);
    json doc = json::parse(r->body, nullptr, false);
    if (doc.is_discarded())
      return TaskOutcome::Failed("polling job " + id_text + ": the response is not JSON", true);
    auto status = At(doc, poll.at("status"), "job status");
    if (!status.ok())
      return TaskOutcome::Failed("polling job " + id_text + ": " + status.status().message());
    auto in = [&](const char* key) {
      const json& list = poll.at(key);
      return std::find(list.begin(), list.end(), *status) != list.end();
    };
    if (in("failure")) {
      return TaskOutcome::Failed("job " + id_text + " ended with status " + status->dump());
    }
    if (!in("success")) return TaskOutcome::Pending(interval);
    json outputs = {{"job_id", job_id}, {"job_status", *status}};
    if (auto o = p.find("outputs"); o != p.end()) {
      for (const auto& [name, pointer] : o->items()) {
        auto v = At(doc, pointer.get<std::string>(), name.c_str());
        if (!v.ok())
          return TaskOutcome::Failed("job " + id_text + " outputs: " + v.status().message());
        outputs[name] = *v;
      }
    }
    ctx.log().info("job {} finished with status {}", id_text, status->dump());
    return TaskOutcome::Succeeded(std::move(outputs));
  }
};

}  // namespace

std::unique_ptr<Task> MakeRestJobTask() { return std::make_unique<RestJobTask>(); }

}  // namespace wf
