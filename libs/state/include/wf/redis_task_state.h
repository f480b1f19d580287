// Task variables kept in Redis: one hash per task run, key "wf:state:<request>:<task>",
// a field per variable holding its JSON text, and a set "wf:state-tasks:<request>" of the
// tasks that have variables. Set() returns once Redis has the value. Nothing touches
// Redis until the task uses its state. One instance serves one task invocation (not
// thread-safe); the Redis pool it uses is.
#pragma once

#include <map>
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
  static std::string IndexKey(const std::string& request_id);

 private:
  Redis& redis_;
  std::string key_;
  std::string index_key_;
  std::string task_id_;
};

// Every task's variables of a request, by task id (for inspection).
Result<std::map<std::string, json>> LoadRequestState(Redis& redis, const std::string& request_id);

// Sets the variables of a finished request to expire after `seconds`.
Status ExpireRequestState(Redis& redis, const std::string& request_id, int seconds);

}  // namespace wf
