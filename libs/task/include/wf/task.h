// The task module interface.
//
// A task module does one thing (one REST call, one program run, one wait). The engine
// keeps one instance per type and calls Run() concurrently from its worker threads, so a
// module must be thread-safe and keep no per-request state in members: everything it must
// remember between invocations goes to ctx.state(), which survives crashes and restarts.
//
// Run() returns one of:
//   succeeded(outputs)            the task is done; outputs feed downstream expressions;
//   failed(error, retryable)      retryable failures may be tried again (template retry);
//   pending(recheck after N ms)   not done yet, call again later; no thread is held while
//                                 waiting (a long external job is polled this way).
// Anything Run() throws fails the task (never the process).
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wf/core/json_path.h"
#include "wf/core/status.h"
#include "wf/core/template.h"

namespace wf {

// A task's restartable variables. Implementations write through before Set() returns.
// Not thread-safe: one invocation of one task uses it at a time.
class TaskState {
 public:
  virtual ~TaskState() = default;
  virtual Result<std::optional<json>> Get(const std::string& key) = 0;
  virtual Status Set(const std::string& key, const json& value) = 0;
  virtual Result<bool> Has(const std::string& key) = 0;
  virtual Status Erase(const std::string& key) = 0;
};

struct TaskOutcome {
  enum class Kind { kSucceeded, kFailed, kPending };
  Kind kind = Kind::kSucceeded;
  json outputs = json::object();
  std::string error;
  bool retryable = false;
  std::chrono::milliseconds recheck_after{0};

  static TaskOutcome Succeeded(json outputs = json::object()) {
    TaskOutcome o;
    o.outputs = std::move(outputs);
    return o;
  }
  static TaskOutcome Failed(std::string error, bool retryable = false) {
    TaskOutcome o;
    o.kind = Kind::kFailed;
    o.error = std::move(error);
    o.retryable = retryable;
    return o;
  }
  static TaskOutcome Pending(std::chrono::milliseconds recheck_after) {
    TaskOutcome o;
    o.kind = Kind::kPending;
    o.recheck_after = recheck_after;
    return o;
  }
};

// What a task invocation sees. Built by the engine for each invocation.
class TaskContext {
 public:
  TaskContext(json params, const json& data, std::string request_id, std::string trace_id,
              std::string task_id, int attempt, TaskState* state, spdlog::logger* log,
              std::chrono::steady_clock::time_point deadline, const std::atomic<bool>* cancelled)
      : params_(std::move(params)),
        data_(data),
        request_id_(std::move(request_id)),
        trace_id_(std::move(trace_id)),
        task_id_(std::move(task_id)),
        idempotency_key_(request_id_ + "/" + task_id_),
        attempt_(attempt),
        state_(state),
        log_(log),
        deadline_(deadline),
        cancelled_(cancelled) {}

  // Params with every expression resolved.
  const json& params() const { return params_; }
  // The request's data as submitted.
  const json& data() const { return data_; }
  const std::string& request_id() const { return request_id_; }
  const std::string& trace_id() const { return trace_id_; }
  const std::string& task_id() const { return task_id_; }
  // Stable across retries, rechecks and engine restarts: "<request id>/<task id>".
  const std::string& idempotency_key() const { return idempotency_key_; }
  // 1 for the first attempt; rechecks of a pending task keep the attempt number.
  int attempt() const { return attempt_; }
  TaskState& state() { return *state_; }
  // Lines logged here carry the trace, request and task ids.
  spdlog::logger& log() { return *log_; }
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }
  bool cancelled() const { return cancelled_ && cancelled_->load(std::memory_order_relaxed); }

 private:
  json params_;
  const json& data_;
  std::string request_id_;
  std::string trace_id_;
  std::string task_id_;
  std::string idempotency_key_;
  int attempt_;
  TaskState* state_;
  spdlog::logger* log_;
  std::chrono::steady_clock::time_point deadline_;
  const std::atomic<bool>* cancelled_;
};

class Task {
 public:
  virtual ~Task() = default;
  // Checks params at template load time. Values may still hold `${...}` expressions,
  // which resolve only at run time. Errors carry a JSON path below `json_path`.
  virtual Status Validate(const json& params, const std::string& json_path) const {
    (void)params;
    (void)json_path;
    return Status::Ok();
  }
  virtual TaskOutcome Run(TaskContext& ctx) const = 0;
};

// Task modules by type name. Filled at start-up, then read-only: Find() is thread-safe
// once registration is over.
class TaskRegistry {
 public:
  void Register(const std::string& type, std::unique_ptr<Task> task);
  const Task* Find(const std::string& type) const;
  std::vector<std::string> Types() const;
  // Moves every module of `other` into this registry. Fails, moving nothing, when one of
  // its types is registered here already.
  Status Merge(TaskRegistry&& other);
  // For ParseTemplate: NotFound for unknown types, the module's Validate() otherwise.
  TaskTypeChecker Checker() const;

 private:
  std::map<std::string, std::unique_ptr<Task>> tasks_;
};

// Helpers for Validate(): a value that is an expression string passes any type check.
bool IsExpression(const json& value);
Status RequireString(const json& params, const char* key, const std::string& json_path,
                     bool required = true);

}  // namespace wf
