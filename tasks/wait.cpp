// wait: succeed once a duration has passed or a point in time is reached, without holding
// a worker thread.
//
// The first invocation computes the deadline and saves it in the task state; every
// invocation until then returns pending with a recheck at the deadline. An engine that
// restarts or takes the request over reads the saved deadline, so the wait is never
// extended. A new attempt (after a failure and a retry) starts a new wait.
//
// Params (exactly one of):
//   seconds   a number of seconds (fractions allowed)
//   duration  a duration string: "90s", "5m", "1h30m", "250ms", "2d"
//   until     an RFC 3339 date-time ("2026-12-01T13:00:00Z"); in the past: no wait
// At most 30 days.
//
// State: "wait" = {"attempt": n, "until_ms": <Unix epoch ms>}.
// Outputs: {"waited_until": "<RFC 3339 UTC>"}.
#include <chrono>

#include "builtin.h"
#include "params.h"

namespace wf {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMaxWait = std::chrono::hours(24 * 30);

Status CheckParams(const json& p, const std::string& path, bool allow_expressions) {
  auto expr = [&](const json& v) { return allow_expressions && IsExpression(v); };
  if (Status s = params::CheckObjectKeys(p, {"seconds", "duration", "until"}, path); !s.ok()) {
    return s;
  }
  int given = static_cast<int>(p.contains("seconds")) + static_cast<int>(p.contains("duration")) +
              static_cast<int>(p.contains("until"));
  if (given != 1) {
    return Status::Invalid("give exactly one of 'seconds', 'duration' and 'until'", path);
  }
  if (auto it = p.find("seconds"); it != p.end() && !expr(*it)) {
    if (!it->is_number()) {
      return Status::Invalid(params::MustBe("a number of seconds", *it),
                             JsonPathJoin(path, "seconds"));
    }
    if (auto d = params::ParseDuration(*it, JsonPathJoin(path, "seconds"), kMaxWait); !d.ok()) {
      return d.status();
    }
  }
  if (auto it = p.find("duration"); it != p.end() && !expr(*it)) {
    if (!it->is_string()) {
      return Status::Invalid(params::MustBe("a duration string such as \"5m\"", *it),
                             JsonPathJoin(path, "duration"));
    }
    if (auto d = params::ParseDuration(*it, JsonPathJoin(path, "duration"), kMaxWait); !d.ok()) {
      return d.status();
    }
  }
  if (auto it = p.find("until"); it != p.end() && !expr(*it)) {
    std::string upath = JsonPathJoin(path, "until");
    if (!it->is_string()) return Status::Invalid(params::MustBe("a string", *it), upath);
    if (auto t = params::ParseRfc3339(it->get_ref<const std::string&>(), upath); !t.ok()) {
      return t.status();
    }
  }
  return Status::Ok();
}

class WaitTask : public Task {
 public:
  Status Validate(const json& params, const std::string& json_path) const override {
    return CheckParams(params, json_path, /*allow_expressions=*/true);
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    const json& p = ctx.params();
    if (Status s = CheckParams(p, "", /*allow_expressions=*/false); !s.ok()) {
      return TaskOutcome::Failed(params::InvalidParamsMessage(s));
    }
    if (ctx.cancelled()) return TaskOutcome::Failed("cancelled while waiting");
    const int64_t now = params::NowEpochMs();

    auto saved = ctx.state().Get("wait");
    if (!saved.ok()) {
      return TaskOutcome::Failed("task state unavailable: " + saved.status().message(),
                                 /*retryable=*/true);
    }
    int64_t until = 0;
    const json* s = saved->has_value() ? &**saved : nullptr;
    if (s && s->is_object() && s->value("attempt", -1) == ctx.attempt() &&
        s->contains("until_ms") && (*s)["until_ms"].is_number_integer()) {
      until = (*s)["until_ms"].get<int64_t>();
    } else {
      if (auto it = p.find("until"); it != p.end()) {
        until = *params::ParseRfc3339(it->get<std::string>(), "/until");
        if (until - now > kMaxWait.count()) {
          return TaskOutcome::Failed("invalid params: " + it->get<std::string>() +
                                     " is more than 30 days away (at /until)");
        }
      } else {
        const char* key = p.contains("seconds") ? "seconds" : "duration";
        until = now + params::ParseDuration(p[key], "", kMaxWait)->count();
      }
      json state = {{"attempt", ctx.attempt()}, {"until_ms", until}};
      if (Status st = ctx.state().Set("wait", state); !st.ok()) {
        return TaskOutcome::Failed("cannot save the wait deadline: " + st.message(),
                                   /*retryable=*/true);
      }
      ctx.log().info("waiting until {}", params::FormatRfc3339(until));
    }
    if (now >= until) {
      return TaskOutcome::Succeeded({{"waited_until", params::FormatRfc3339(until)}});
    }
    return TaskOutcome::Pending(milliseconds(until - now));
  }
};

}  // namespace

std::unique_ptr<Task> MakeWaitTask() { return std::make_unique<WaitTask>(); }

}  // namespace wf
