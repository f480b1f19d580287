// noop: succeeds at once. Params: optional `outputs` (an object), copied to the task
// outputs, which makes it handy for tests, examples and for shaping values for later tasks.

#include "builtin.h"

namespace wf {
namespace {

class NoopTask : public Task {
 public:
  Status Validate(const json& params, const std::string& json_path) const override {
    if (!params.is_object()) {
      return Status::Invalid(std::string("params must be an object, not ") + JsonTypeName(params),
                             json_path);
    }
    for (const auto& [key, value] : params.items()) {
      if (key != "outputs") return Status::Invalid("unknown param", JsonPathJoin(json_path, key));
      if (!value.is_object() && !IsExpression(value)) {
        return Status::Invalid(std::string("must be an object, not ") + JsonTypeName(value),
                               JsonPathJoin(json_path, key));
      }
    }
    return Status::Ok();
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    const json& params = ctx.params();
    if (!params.is_object()) return TaskOutcome::Succeeded();
    auto it = params.find("outputs");
    if (it == params.end()) return TaskOutcome::Succeeded();
    if (!it->is_object()) {
      return TaskOutcome::Failed(std::string("param 'outputs' must resolve to an object, not ") +
                                 JsonTypeName(*it));
    }
    return TaskOutcome::Succeeded(*it);
  }
};

}  // namespace

std::unique_ptr<Task> MakeNoopTask() { return std::make_unique<NoopTask>(); }

}  // namespace wf
