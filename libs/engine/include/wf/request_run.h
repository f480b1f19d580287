// RequestRun: the in-memory state machine of one claimed request's DAG.
//
// It holds each task's committed status and decides what happens next; it does no I/O.
// The engine asks Advance() for actions (dispatch a task, skip a task, finish the
// request), performs them, and reports back with Apply() once the matching write is
// committed, so a task's dependents never start before its completion is durable.
// Not thread-safe: the engine's scheduler thread owns every RequestRun.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wf/core/expression.h"
#include "wf/core/template.h"
#include "wf/request_store.h"

namespace wf {

enum class TaskStatus { kPending, kRunning, kWaiting, kSucceeded, kFailed, kSkipped, kCancelled };

const char* TaskStatusName(TaskStatus s);
bool ParseTaskStatus(const std::string& text, TaskStatus* out);
inline bool IsTerminal(TaskStatus s) {
  return s == TaskStatus::kSucceeded || s == TaskStatus::kFailed || s == TaskStatus::kSkipped ||
         s == TaskStatus::kCancelled;
}

struct RunAction {
  enum class Kind { kDispatch, kSkip, kFinish };
  Kind kind;
  size_t task = 0;       // kDispatch, kSkip
  bool recheck = false;  // kDispatch: a pending task checked again (same attempt)
  std::string status;    // kFinish: final request status
  json outputs;          // kFinish
  std::string error;     // kFinish
};

class RequestRun {
 public:
  RequestRun(ClaimedRequest request, std::shared_ptr<const Template> tmpl,
             const std::vector<TaskRunRow>& prior);

  const ClaimedRequest& request() const { return request_; }
  const Template& tmpl() const { return *tmpl_; }
  const std::shared_ptr<const json>& data() const { return data_; }

  // What to do now. Each returned dispatch/skip marks its task busy until Apply(); a
  // finish action is returned once.
  std::vector<RunAction> Advance();

  // Dispatch bookkeeping: the task is now running; returns its attempt number.
  int StartAttempt(size_t task, bool recheck);

  // A committed transition of `task`. For kWaiting the task stays busy until the engine
  // calls Recheck (through Advance on a timer) — see MarkRecheckDue().
  void Apply(size_t task, TaskStatus status, json outputs, std::string error);
  void MarkRecheckDue(size_t task);
  // The committed kWaiting of `task` waits for a retry (a new attempt), not a recheck.
  void MarkRetry(size_t task);

  // Params of `task` with expressions resolved against data, request and upstream tasks.
  Result<json> ResolveParams(size_t task) const;

  TaskStatus status(size_t task) const { return tasks_[task].status; }
  int attempts(size_t task) const { return tasks_[task].attempts; }
  bool finishing() const { return finishing_; }
  int busy_tasks() const;

 private:
  struct TaskState {
    TaskStatus status = TaskStatus::kPending;
    int attempts = 0;
    bool busy = false;           // a dispatch, skip or write is in flight
    bool recheck_due = false;    // a waiting task whose recheck time has come
    bool retry_next = false;     // the wait ends in a new attempt rather than a recheck
    json view = json::object();  // {"status", "outputs", "error", "attempts"}
  };
  ExpressionScope Scope() const;
  void UpdateView(size_t task);

  ClaimedRequest request_;
  std::shared_ptr<const Template> tmpl_;
  std::shared_ptr<const json> data_;
  json request_view_;
  std::vector<TaskState> tasks_;
  bool failing_ = false;
  std::string first_error_;
  bool finishing_ = false;
};

}  // namespace wf
