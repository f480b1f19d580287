#include "wf/workflow_task.h"

#include <spdlog/spdlog.h>

namespace wf {
namespace {

class WorkflowTask : public Task {
 public:
  WorkflowTask(RequestStore& store, TemplateCatalog& catalog) : store_(store), catalog_(catalog) {}

  Status Validate(const json& params, const std::string& path) const override {
    for (const auto& [key, _] : params.items()) {
      if (key != "template" && key != "data" && key != "poll_ms") {
        return Status::Invalid("unknown param", JsonPathJoin(path, key));
      }
    }
    Status s = RequireString(params, "template", path);
    if (!s.ok()) return s;
    if (auto d = params.find("data"); d != params.end() && !d->is_object() && !IsExpression(*d)) {
      return Status::Invalid("must be an object", path + "/data");
    }
    if (auto p = params.find("poll_ms");
        p != params.end() && (!p->is_number_integer() || p->get<int64_t>() < 10)) {
      return Status::Invalid("must be an integer of at least 10", path + "/poll_ms");
    }
    return Status::Ok();
  }

  TaskOutcome Run(TaskContext& ctx) const override {
    const json& p = ctx.params();
    const auto poll = std::chrono::milliseconds(p.value("poll_ms", 1000));
    const std::string child_id = DerivedUuid(ctx.request_id() + "/" + ctx.task_id());
    auto row = store_.GetRequest(child_id);
    if (!row.ok())
      return TaskOutcome::Failed("looking up the child request: " + row.status().message(), true);
    if (!row->has_value()) return Start(ctx, child_id, poll);
    const RequestRow& child = **row;
    if (child.status == "succeeded") {
      json outputs = child.outputs.is_object() ? child.outputs : json{{"outputs", child.outputs}};
      outputs["request_id"] = child_id;
      return TaskOutcome::Succeeded(std::move(outputs));
    }
    if (child.status == "failed" || child.status == "cancelled") {
      return TaskOutcome::Failed("child request " + child_id + " " + child.status + ": " +
                                 child.error);
    }
    return TaskOutcome::Pending(poll);
  }

 private:
  TaskOutcome Start(TaskContext& ctx, const std::string& child_id,
                    std::chrono::milliseconds poll) const {
    const json& p = ctx.params();
    const std::string name = p.at("template").get<std::string>();
    auto tmpl = catalog_.Find(name);
    if (!tmpl) return TaskOutcome::Failed("no template named '" + name + "'");
    json data = p.value("data", json::object());
    if (!data.is_object()) return TaskOutcome::Failed("data must resolve to an object");
    if (tmpl->inputs_schema) {
      Status valid = tmpl->inputs_schema->Validate(data);
      if (!valid.ok()) {
        return TaskOutcome::Failed("data for template '" + name + "' at " + valid.path() + ": " +
                                   valid.message());
      }
    }
    NewRequest r;
    r.id = child_id;
    r.trace_id = ctx.trace_id();
    r.template_name = tmpl->name;
    r.template_hash = tmpl->hash;
    r.data = std::move(data);
    r.parent_request_id = ctx.request_id();
    r.parent_task_id = ctx.task_id();
    Status s = store_.EnsureTemplateVersion(tmpl->hash, tmpl->name, tmpl->source);
    if (s.ok()) s = store_.InsertRequest(r);
    if (!s.ok()) return TaskOutcome::Failed("starting the child request: " + s.message(), true);
    ctx.log().info("started child request {} (template {})", child_id, name);
    return TaskOutcome::Pending(poll);
  }

  RequestStore& store_;
  TemplateCatalog& catalog_;
};

}  // namespace

std::string DerivedUuid(const std::string& seed) {
  std::string hex = ContentHash(json(seed)).substr(0, 32);
  hex[12] = '4';                                                    // version 4 layout
  hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];  // RFC 4122 variant
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

void RegisterWorkflowTask(TaskRegistry* registry, RequestStore& store, TemplateCatalog& catalog) {
  registry->Register("workflow", std::make_unique<WorkflowTask>(store, catalog));
}

}  // namespace wf
