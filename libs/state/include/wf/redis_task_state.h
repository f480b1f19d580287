// Task variables kept in Redis: one hash per task run, key "wf:state:<request>:<task>",
// a field per variable holding its JSON text. Set() returns once Redis has the value.
// One instance serves one task invocation (not thread-safe); the Redis pool it uses is.
#pragma once

#include <string>

#include "wf/redis.h"
#include "wf/task.h"

namespace wf {

class RedisTaskState : public TaskState {
 public:
  RedisTaskState(Redis& redis, const std::string& request_id, const std::string& task_id);

  Result<std::optional<json>> Get(const std::string& key) override;
  Status Set(const std::string& key, const json& value) override;
  Result<bool> Has(const std::string& key) override;
  Status Erase(const std::string& key) override;

  // Every variable of the task, as an object (for inspection).
  Result<json> All();

  static std::string Key(const std::string& request_id, const std::string& task_id);

 private:
  Redis& redis_;
  std::string key_;
};

}  // namespace wf
