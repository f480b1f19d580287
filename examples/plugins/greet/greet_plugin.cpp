// An example task-module plugin: the `greet` task type, built as a shared library that
// wf-engine and wf-api load from their plugins directory. See docs/writing-tasks.md.
//
//   {"id": "hi", "type": "greet", "params": {"name": "${data.who}", "greeting": "Hello"}}
//
// outputs {"message": "Hello, <name>!", "invocation": <n>}, where n counts this task's
// invocations in its task state (which survives engine restarts).
#include <memory>

#include "wf/plugin.h"

namespace {

class GreetTask : public wf::Task {
 public:
  wf::Status Validate(const wf::json& params, const std::string& json_path) const override {
    if (auto s = wf::RequireString(params, "name", json_path); !s.ok()) return s;
    return wf::RequireString(params, "greeting", json_path, /*required=*/false);
  }

  wf::TaskOutcome Run(wf::TaskContext& ctx) const override {
    const auto& p = ctx.params();
    if (!p.contains("name") || !p["name"].is_string()) {
      return wf::TaskOutcome::Failed("params.name must be a string");
    }
    auto previous = ctx.state().Get("invocations");
    if (!previous.ok()) return wf::TaskOutcome::Failed(previous.status().ToString(), true);
    const int n = (*previous ? (*previous)->get<int>() : 0) + 1;
    if (auto s = ctx.state().Set("invocations", n); !s.ok()) {
      return wf::TaskOutcome::Failed(s.ToString(), /*retryable=*/true);
    }
    const std::string message =
        p.value("greeting", std::string("Hello")) + ", " + p["name"].get<std::string>() + "!";
    ctx.log().info("greet: {}", message);
    return wf::TaskOutcome::Succeeded({{"message", message}, {"invocation", n}});
  }
};

void RegisterGreet(wf::TaskRegistry* registry) {
  registry->Register("greet", std::make_unique<GreetTask>());
}

}  // namespace

WF_PLUGIN("greet-example", "1.0.0", RegisterGreet)
