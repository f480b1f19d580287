// set: computes values from expressions, with no side effect — the "enrich the state and
// pass it on" step of a pipeline. Every param, resolved, becomes an output of the same
// name: {"type": "set", "params": {"vpc_name": "vpc-${data.site}", "cidr": "${data.cidr}"}}.

#include "builtin.h"

namespace wf {
namespace {

class SetTask : public Task {
 public:
  Status Validate(const json& params, const std::string& json_path) const override {
    if (!params.is_object() || params.empty()) {
      return Status::Invalid("params must be an object with at least one value to set", json_path);
    }
    return Status::Ok();
  }

  TaskOutcome Run(TaskContext& ctx) const override { return TaskOutcome::Succeeded(ctx.params()); }
};

}  // namespace

std::unique_ptr<Task> MakeSetTask() { return std::make_unique<SetTask>(); }

}  // namespace wf
