#include "wf/signal_task.h"

#include <chrono>

namespace wf {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SignalTask : public Task {
 public:
  explicit SignalTask(RequestStore& store) : store_(store) {}

  Status Validate(const json& params, const std::string& path) const override {
    for (const auto& [key, value] : params.items()) {
      if (key != "poll_ms" && key != "wait_ms")
        return Status::Invalid("unknown param", JsonPathJoin(path, key));
      if (!value.is_number_integer() || value.get<int64_t>() < (key == "poll_ms" ? 10 : 1)) {
        return Status::Invalid(
            key == "poll_ms" ? "must be an integer of at least 10" : "must be a positive integer",
            JsonPathJoin(path, key));
      }
    }
    return Status::Ok();
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    const json& p = ctx.params();
    auto signal = store_.GetSignal(ctx.request_id(), ctx.task_id());
    if (!signal.ok())
      return TaskOutcome::Failed("reading the signal: " + signal.status().message(), true);
    if (signal->has_value()) {
      const json& s = **signal;
      if (!s["error"].get<std::string>().empty()) {
        return TaskOutcome::Failed("signalled: " + s["error"].get<std::string>());
      }
      ctx.log().info("signal received");
      return TaskOutcome::Succeeded(s["outputs"].is_null() ? json::object() : s["outputs"]);
    }
    if (auto wait = p.find("wait_ms"); wait != p.end()) {
      auto since = ctx.state().Get("waiting_since_ms");
      if (!since.ok()) return TaskOutcome::Failed("task state: " + since.status().message(), true);
      if (!since->has_value()) {
        Status s = ctx.state().Set("waiting_since_ms", NowMs());
        if (!s.ok()) return TaskOutcome::Failed("task state: " + s.message(), true);
      } else if (NowMs() - (**since).get<int64_t>() > wait->get<int64_t>()) {
        return TaskOutcome::Failed("no signal within " + std::to_string(wait->get<int64_t>()) +
                                   " ms");
      }
    }
    return TaskOutcome::Pending(std::chrono::milliseconds(p.value("poll_ms", 1000)));
  }

 private:
  RequestStore& store_;
};

}  // namespace

void RegisterSignalTask(TaskRegistry* registry, RequestStore& store) {
  registry->Register("signal", std::make_unique<SignalTask>(store));
}

}  // namespace wf
