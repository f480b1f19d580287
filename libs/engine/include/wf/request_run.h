// RequestRun: the in-memory state machine of one claimed request's DAG.
//
// It holds each task's committed status and decides what happens next; it does no I/O.
// The engine asks Advance() for actions (dispatch, skip, fail, cancel, start or finish a
// fan-out group, finish the request), performs them, and reports back with Apply() once
// the matching write is committed, so a task's dependents never start before its
// completion is durable.
//
// Nodes: the first tmpl().tasks.size() nodes are the template's tasks, in file order; a
// for_each task is a group node whose instances ("<id>[<i>]") are appended as nodes when
// it expands. Expressions see template tasks only; a group's outputs are the array of its
// instances' outputs.
//
// Semantics of a task whose dependencies have ended (trigger × how they ended):
//   all_succeeded: runs when all succeeded; skipped as soon as one did not.
//   all_done:      runs once all ended, whatever the result.
//   any_failed:    runs once all ended if at least one failed; skipped otherwise.
// then `when` false → skipped. Once a task with on_failure fail_workflow has failed (or
// the request deadline passed), tasks not started are skipped, except all_done and
// any_failed ones, which still run; running tasks finish; waiting ones are cancelled
// when the deadline passed. on_failure continue: the failure is recorded and the request
// goes on; it ends "succeeded" with an error listing the failed tasks.
// Not thread-safe: the engine's scheduler thread owns every RequestRun.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
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
  enum class Kind {
    kDispatch,     // invoke the node (recheck: a pending task checked again, same attempt)
    kSkip,         // record the node as skipped
    kFail,         // record the node as failed with `error` without running it
    kCancel,       // record a waiting node as cancelled with `error` (with `recheck`: its
                   // module is invoked once more, cancelled, to stop its outside job first)
    kStartGroup,   // a for_each group expanded: record it as running
    kFinishGroup,  // every instance ended: record the group with `status`, `outputs`, `error`
    kFinish,       // every task ended: record the request with `status`, `outputs`, `error`
  };
  Kind kind;
  size_t node = 0;
  bool recheck = false;
  std::string status;
  json outputs;
  std::string error;
};

class RequestRun {
 public:
  RequestRun(ClaimedRequest request, std::shared_ptr<const Template> tmpl,
             const std::vector<TaskRunRow>& prior);

  // The engine's secrets, for `${secrets.<name>}` in task params (nullptr: none).
  void set_secrets(std::shared_ptr<const json> secrets) { secrets_ = std::move(secrets); }

  const ClaimedRequest& request() const { return request_; }
  const Template& tmpl() const { return *tmpl_; }
  const std::shared_ptr<const json>& data() const { return data_; }

  // What to do now. Each returned node action marks its node busy until Apply(); a
  // finish action is returned once.
  std::vector<RunAction> Advance();

  // Dispatch bookkeeping: the node is now running; returns its attempt number.
  int StartAttempt(size_t node, bool recheck);

  // A committed transition of `node`. A kWaiting node stays busy until MarkRecheckDue().
  void Apply(size_t node, TaskStatus status, json outputs, std::string error);
  void MarkRecheckDue(size_t node);
  // The committed kWaiting of `node` waits for a retry (a new attempt), not a recheck.
  void MarkRetry(size_t node);
  // The request's deadline passed: fail it with `reason`, cancel waiting tasks.
  void Expire(const std::string& reason);
  // Cancellation asked for: tasks not started and waiting ones are cancelled (all_done
  // tasks still run), running invocations see the cancel flag, and the request ends
  // "cancelled". Idempotent.
  void Cancel(const std::string& reason);
  bool cancelled() const { return cancelled_; }
  // Set when the request is cancelled; handed to task invocations (ctx.cancelled()).
  const std::shared_ptr<std::atomic<bool>>& cancel_flag() const { return cancel_flag_; }

  // Params of `node` with expressions resolved (for an instance, with its item/index).
  Result<json> ResolveParams(size_t node) const;

  size_t nodes() const { return nodes_.size(); }
  const std::string& node_id(size_t node) const { return nodes_[node].id; }
  const TaskSpec& spec(size_t node) const { return tmpl_->tasks[nodes_[node].task]; }
  TaskStatus status(size_t node) const { return nodes_[node].status; }
  int attempts(size_t node) const { return nodes_[node].attempts; }
  bool finishing() const { return finishing_; }
  int busy_nodes() const;

 private:
  std::shared_ptr<const json> secrets_;
  struct Node {
    size_t task = 0;    // index of its template task
    int instance = -1;  // >= 0 for a for_each instance
    std::string id;
    TaskStatus status = TaskStatus::kPending;
    int attempts = 0;
    bool busy = false;         // an action or write is in flight, or a wait is armed
    bool recheck_due = false;  // a waiting node whose time has come
    bool retry_next = false;   // the wait ends in a new attempt rather than a recheck
    bool cancelling = false;
    json view = json::object();  // {"status", "outputs", "error", "attempts"}
    json item;                   // instances: their element and index
    // Groups:
    bool expanded = false;
    std::vector<size_t> instances;
  };
  enum class Decision { kWait, kRun, kSkip, kCancel };

  Decision Decide(size_t task) const;
  ExpressionScope Scope(const Node* instance = nullptr) const;
  void UpdateView(Node& node);
  void ApplyPrior(Node& node, const TaskRunRow& row);
  // Expands group `task`; false (with `error`) when its list cannot be had.
  bool Expand(size_t task, std::string* error);
  void AdvanceGroup(size_t task, std::vector<RunAction>* actions);
  // Common handling of a node that is waiting or being cancelled; true when handled.
  bool AdvanceWaiting(size_t node, std::vector<RunAction>* actions);

  ClaimedRequest request_;
  std::shared_ptr<const Template> tmpl_;
  std::shared_ptr<const json> data_;
  json request_view_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, TaskRunRow> prior_instances_;
  bool failing_ = false;
  bool expired_ = false;
  bool cancelled_ = false;
  std::string cancel_reason_;
  std::shared_ptr<std::atomic<bool>> cancel_flag_ = std::make_shared<std::atomic<bool>>(false);
  std::string first_error_;
  std::vector<std::string> failed_continued_;
  bool finishing_ = false;
};

}  // namespace wf
