#include "wf/task.h"

namespace wf {

void TaskRegistry::Register(const std::string& type, std::unique_ptr<Task> task) {
  tasks_[type] = std::move(task);
}

const Task* TaskRegistry::Find(const std::string& type) const {
  auto it = tasks_.find(type);
  return it == tasks_.end() ? nullptr : it->second.get();
}

std::vector<std::string> TaskRegistry::Types() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : tasks_) out.push_back(name);
  return out;
}

Status TaskRegistry::Merge(TaskRegistry&& other) {
  for (const auto& [type, _] : other.tasks_) {
    if (tasks_.count(type))
      return Status::Invalid("task type '" + type + "' is registered already");
  }
  for (auto& [type, task] : other.tasks_) tasks_[type] = std::move(task);
  other.tasks_.clear();
  return Status::Ok();
}

TaskTypeChecker TaskRegistry::Checker() const {
  return [this](const std::string& type, const json& params, const std::string& json_path) {
    const Task* task = Find(type);
    if (!task) return Status::NotFound("unknown task type '" + type + "'");
    return task->Validate(params, json_path);
  };
}

bool IsExpression(const json& value) {
  return value.is_string() && value.get_ref<const std::string&>().find("${") != std::string::npos;
}

Status RequireString(const json& params, const char* key, const std::string& json_path,
                     bool required) {
  auto it = params.find(key);
  if (it == params.end()) {
    return required ? Status::Invalid(std::string("'") + key + "' is required",
                                      JsonPathJoin(json_path, key))
                    : Status::Ok();
  }
  if (!it->is_string()) {
    return Status::Invalid(std::string("must be a string, not ") + JsonTypeName(*it),
                           JsonPathJoin(json_path, key));
  }
  return Status::Ok();
}

}  // namespace wf
