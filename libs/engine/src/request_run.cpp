#include "wf/request_run.h"

namespace wf {

const char* TaskStatusName(TaskStatus s) {
  switch (s) {
    case TaskStatus::kPending:
      return "pending";
    case TaskStatus::kRunning:
      return "running";
    case TaskStatus::kWaiting:
      return "waiting";
    case TaskStatus::kSucceeded:
      return "succeeded";
    case TaskStatus::kFailed:
      return "failed";
    case TaskStatus::kSkipped:
      return "skipped";
    case TaskStatus::kCancelled:
      return "cancelled";
  }
  return "pending";
}

bool ParseTaskStatus(const std::string& text, TaskStatus* out) {
  for (auto s :
       {TaskStatus::kPending, TaskStatus::kRunning, TaskStatus::kWaiting, TaskStatus::kSucceeded,
        TaskStatus::kFailed, TaskStatus::kSkipped, TaskStatus::kCancelled}) {
    if (text == TaskStatusName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

RequestRun::RequestRun(ClaimedRequest request, std::shared_ptr<const Template> tmpl,
                       const std::vector<TaskRunRow>& prior)
    : request_(std::move(request)),
      tmpl_(std::move(tmpl)),
      data_(std::make_shared<const json>(request_.data)),
      tasks_(tmpl_->tasks.size()) {
  request_view_ = {
      {"id", request_.id}, {"trace_id", request_.trace_id}, {"template", request_.template_name}};
  for (const auto& row : prior) {
    auto it = tmpl_->index.find(row.task_id);
    if (it == tmpl_->index.end()) continue;
    TaskState& t = tasks_[it->second];
    TaskStatus s = TaskStatus::kPending;
    ParseTaskStatus(row.status, &s);
    t.attempts = row.attempts;
    if (IsTerminal(s)) {
      t.status = s;
      t.view["outputs"] = row.outputs.is_null() ? json::object() : row.outputs;
      t.view["error"] = row.error;
      if (s == TaskStatus::kFailed) {
        failing_ = true;
        if (first_error_.empty()) first_error_ = "task '" + row.task_id + "' failed: " + row.error;
      }
    } else if (s == TaskStatus::kWaiting) {
      // Interrupted while waiting on an external job or for a retry: go on at once. A
      // retry wait is recorded with the error of the attempt that failed.
      t.status = TaskStatus::kWaiting;
      t.recheck_due = true;
      t.retry_next = !row.error.empty();
    } else {
      // Running when the previous owner stopped: invoked again (at least once).
      t.status = TaskStatus::kPending;
    }
    UpdateView(it->second);
  }
  for (size_t i = 0; i < tasks_.size(); ++i) UpdateView(i);
}

void RequestRun::UpdateView(size_t i) {
  TaskState& t = tasks_[i];
  t.view["status"] = TaskStatusName(t.status);
  t.view["attempts"] = t.attempts;
  if (!t.view.contains("outputs")) t.view["outputs"] = json::object();
  if (!t.view.contains("error")) t.view["error"] = "";
}

int RequestRun::busy_tasks() const {
  int n = 0;
  for (const auto& t : tasks_) n += t.busy ? 1 : 0;
  return n;
}

std::vector<RunAction> RequestRun::Advance() {
  std::vector<RunAction> actions;
  if (finishing_) return actions;
  bool all_settled = true;
  for (size_t i : tmpl_->topo_order) {
    TaskState& t = tasks_[i];
    if (t.busy) {
      all_settled = false;
      continue;
    }
    if (IsTerminal(t.status)) continue;
    if (t.status == TaskStatus::kWaiting) {
      all_settled = false;
      if (t.recheck_due) {
        t.busy = true;
        t.recheck_due = false;
        actions.push_back(RunAction{RunAction::Kind::kDispatch, i, !t.retry_next, {}, {}, {}});
        t.retry_next = false;
      }
      continue;
    }
    // Pending (or running when recovered, which was reset to pending).
    all_settled = false;
    if (failing_) {
      t.busy = true;
      actions.push_back(RunAction{RunAction::Kind::kSkip, i, false, {}, {}, {}});
      continue;
    }
    bool ready = true, doomed = false;
    for (size_t d : tmpl_->dependencies[i]) {
      TaskStatus ds = tasks_[d].status;
      if (ds == TaskStatus::kSucceeded) continue;
      ready = false;
      if (IsTerminal(ds)) doomed = true;
    }
    if (doomed) {
      t.busy = true;
      actions.push_back(RunAction{RunAction::Kind::kSkip, i, false, {}, {}, {}});
    } else if (ready) {
      t.busy = true;
      actions.push_back(RunAction{RunAction::Kind::kDispatch, i, false, {}, {}, {}});
    }
  }
  if (all_settled && actions.empty()) {
    finishing_ = true;
    RunAction finish{RunAction::Kind::kFinish, 0, false, "succeeded", json::object(), {}};
    if (failing_) {
      finish.status = "failed";
      finish.error = first_error_;
    }
    auto outputs = ResolveExpressions(tmpl_->outputs, Scope(), "/outputs");
    if (outputs.ok()) {
      finish.outputs = std::move(*outputs);
    } else if (!failing_) {
      finish.status = "failed";
      finish.error = "template outputs: " + outputs.status().ToString();
    }
    actions.push_back(std::move(finish));
  }
  return actions;
}

int RequestRun::StartAttempt(size_t task, bool recheck) {
  TaskState& t = tasks_[task];
  if (!recheck) t.attempts += 1;
  t.status = TaskStatus::kRunning;
  UpdateView(task);
  return std::max(t.attempts, 1);
}

void RequestRun::Apply(size_t task, TaskStatus status, json outputs, std::string error) {
  TaskState& t = tasks_[task];
  t.status = status;
  t.view["outputs"] = outputs.is_null() ? json::object() : std::move(outputs);
  t.view["error"] = error;
  UpdateView(task);
  // A waiting task stays busy until its recheck is due.
  t.busy = status == TaskStatus::kWaiting;
  if (status == TaskStatus::kFailed && !failing_) {
    failing_ = true;
    first_error_ = "task '" + tmpl_->tasks[task].id + "' failed: " + error;
  }
}

void RequestRun::MarkRetry(size_t task) { tasks_[task].retry_next = true; }

void RequestRun::MarkRecheckDue(size_t task) {
  TaskState& t = tasks_[task];
  if (t.status != TaskStatus::kWaiting) return;
  t.busy = false;
  t.recheck_due = true;
}

ExpressionScope RequestRun::Scope() const {
  ExpressionScope scope;
  scope.data = data_.get();
  scope.request = &request_view_;
  scope.task = [this](const std::string& id) -> const json* {
    auto it = tmpl_->index.find(id);
    return it == tmpl_->index.end() ? nullptr : &tasks_[it->second].view;
  };
  return scope;
}

Result<json> RequestRun::ResolveParams(size_t task) const {
  const TaskSpec& spec = tmpl_->tasks[task];
  return ResolveExpressions(spec.params, Scope(), spec.json_path + "/params");
}

}  // namespace wf
