#include "wf/request_run.h"

#include <algorithm>

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

namespace {

bool IsInstanceId(const std::string& id) { return !id.empty() && id.back() == ']'; }

}  // namespace

RequestRun::RequestRun(ClaimedRequest request, std::shared_ptr<const Template> tmpl,
                       const std::vector<TaskRunRow>& prior)
    : request_(std::move(request)),
      tmpl_(std::move(tmpl)),
      data_(std::make_shared<const json>(request_.data)),
      nodes_(tmpl_->tasks.size()) {
  request_view_ = {
      {"id", request_.id}, {"trace_id", request_.trace_id}, {"template", request_.template_name}};
  for (size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i].task = i;
    nodes_[i].id = tmpl_->tasks[i].id;
  }
  for (const auto& row : prior) {
    if (IsInstanceId(row.task_id)) {
      prior_instances_[row.task_id] = row;  // applied when its group expands again
      continue;
    }
    auto it = tmpl_->index.find(row.task_id);
    if (it != tmpl_->index.end()) ApplyPrior(nodes_[it->second], row);
  }
  for (auto& n : nodes_) UpdateView(n);
}

void RequestRun::ApplyPrior(Node& n, const TaskRunRow& row) {
  TaskStatus s = TaskStatus::kPending;
  ParseTaskStatus(row.status, &s);
  n.attempts = row.attempts;
  if (IsTerminal(s)) {
    n.status = s;
    n.view["outputs"] = row.outputs.is_null() ? json::object() : row.outputs;
    n.view["error"] = row.error;
    if (s == TaskStatus::kFailed && n.instance < 0) {
      if (tmpl_->tasks[n.task].on_failure == OnFailure::kContinue) {
        failed_continued_.push_back(n.id);
      } else if (!failing_) {
        failing_ = true;
        first_error_ = "task '" + n.id + "' failed: " + row.error;
      }
    }
  } else if (s == TaskStatus::kWaiting) {
    // Interrupted while waiting on an external job or for a retry: go on at once. A
    // retry wait is recorded with the error of the attempt that failed.
    n.status = TaskStatus::kWaiting;
    n.recheck_due = true;
    n.retry_next = !row.error.empty();
  } else {
    // Running when the previous owner stopped (or a group that had expanded): invoked,
    // or expanded, again.
    n.status = TaskStatus::kPending;
  }
  UpdateView(n);
}

void RequestRun::UpdateView(Node& n) {
  n.view["status"] = TaskStatusName(n.status);
  n.view["attempts"] = n.attempts;
  if (!n.view.contains("outputs")) n.view["outputs"] = json::object();
  if (!n.view.contains("error")) n.view["error"] = "";
}

int RequestRun::busy_nodes() const {
  int n = 0;
  for (const auto& node : nodes_) n += node.busy ? 1 : 0;
  return n;
}

RequestRun::Decision RequestRun::Decide(size_t task) const {
  const TaskSpec& spec = tmpl_->tasks[task];
  if (cancelled_ && spec.trigger != Trigger::kAllDone) return Decision::kCancel;
  if (failing_ && spec.trigger == Trigger::kAllSucceeded) return Decision::kSkip;
  bool all_done = true, all_succeeded = true, any_failed = false, doomed = false;
  for (size_t d : tmpl_->dependencies[task]) {
    TaskStatus s = nodes_[d].status;
    if (!IsTerminal(s)) {
      all_done = false;
      all_succeeded = false;
      continue;
    }
    if (s != TaskStatus::kSucceeded) {
      all_succeeded = false;
      doomed = true;
    }
    if (s == TaskStatus::kFailed) any_failed = true;
  }
  switch (spec.trigger) {
    case Trigger::kAllSucceeded:
      if (doomed) return Decision::kSkip;
      return all_succeeded ? Decision::kRun : Decision::kWait;
    case Trigger::kAllDone:
      return all_done ? Decision::kRun : Decision::kWait;
    case Trigger::kAnyFailed:
      if (!all_done) return Decision::kWait;
      return any_failed ? Decision::kRun : Decision::kSkip;
  }
  return Decision::kWait;
}

bool RequestRun::AdvanceWaiting(size_t i, std::vector<RunAction>* actions) {
  Node& n = nodes_[i];
  if (n.cancelling) return true;
  if (n.status != TaskStatus::kWaiting) return false;
  if (expired_ || cancelled_) {
    n.cancelling = true;
    n.busy = true;
    // A node waiting for a recheck has a job running outside: its module gets one more
    // invocation, with ctx.cancelled() set, to stop it (recheck = true on the action).
    actions->push_back({RunAction::Kind::kCancel,
                        i,
                        !n.retry_next,
                        {},
                        {},
                        cancelled_ ? cancel_reason_ : first_error_});
    return true;
  }
  if (!n.busy && n.recheck_due) {
    n.busy = true;
    n.recheck_due = false;
    actions->push_back({RunAction::Kind::kDispatch, i, !n.retry_next, {}, {}, {}});
    n.retry_next = false;
  }
  return true;
}

std::vector<RunAction> RequestRun::Advance() {
  std::vector<RunAction> actions;
  if (finishing_) return actions;
  bool all_settled = true;
  for (size_t i : tmpl_->topo_order) {
    Node& n = nodes_[i];
    if (IsTerminal(n.status) && !n.busy) continue;
    all_settled = false;
    if (AdvanceWaiting(i, &actions) || n.busy) continue;
    if (n.expanded) {
      AdvanceGroup(i, &actions);
      continue;
    }
    // A task that has not started.
    Decision d = Decide(i);
    if (d == Decision::kWait) continue;
    const TaskSpec& spec = tmpl_->tasks[i];
    if (d == Decision::kRun && spec.when) {
      auto when = spec.when->Evaluate(Scope());
      if (!when.ok()) {
        n.busy = true;
        actions.push_back(
            {RunAction::Kind::kFail, i, false, {}, {}, "when: " + when.status().message()});
        continue;
      }
      if (!*when) d = Decision::kSkip;
    } else if (d == Decision::kRun && !spec.when_literal) {
      d = Decision::kSkip;
    }
    if (d == Decision::kCancel) {
      n.busy = true;
      actions.push_back({RunAction::Kind::kCancel, i, false, {}, {}, cancel_reason_});
      continue;
    }
    if (d == Decision::kSkip) {
      n.busy = true;
      actions.push_back({RunAction::Kind::kSkip, i, false, {}, {}, {}});
      continue;
    }
    if (!spec.fan_out()) {
      n.busy = true;
      actions.push_back({RunAction::Kind::kDispatch, i, false, {}, {}, {}});
      continue;
    }
    std::string error;
    if (!Expand(i, &error)) {
      n.busy = true;
      actions.push_back({RunAction::Kind::kFail, i, false, {}, {}, error});
      continue;
    }
    actions.push_back({RunAction::Kind::kStartGroup, i, false, {}, {}, {}});
    AdvanceGroup(i, &actions);
  }
  if (all_settled && actions.empty()) {
    finishing_ = true;
    RunAction finish{RunAction::Kind::kFinish, 0, false, "succeeded", json::object(), {}};
    if (cancelled_) {
      finish.status = "cancelled";
      finish.error = cancel_reason_;
    } else if (failing_) {
      finish.status = "failed";
      finish.error = first_error_;
    } else if (!failed_continued_.empty()) {
      finish.error = "completed with failed tasks: ";
      for (size_t k = 0; k < failed_continued_.size(); ++k) {
        finish.error += (k ? ", " : "") + failed_continued_[k];
      }
    }
    auto outputs = ResolveExpressions(tmpl_->outputs, Scope(), "/outputs");
    if (outputs.ok()) {
      finish.outputs = std::move(*outputs);
    } else if (!failing_ && !cancelled_) {
      finish.status = "failed";
      finish.error = "template outputs: " + outputs.status().ToString();
    }
    actions.push_back(std::move(finish));
  }
  return actions;
}

bool RequestRun::Expand(size_t task, std::string* error) {
  const TaskSpec& spec = tmpl_->tasks[task];
  auto list = ResolveExpressions(spec.for_each, Scope(), spec.json_path + "/for_each");
  if (!list.ok()) {
    *error = "for_each: " + list.status().message();
    return false;
  }
  if (!list->is_array()) {
    *error = std::string("for_each: expected a list, got ") + JsonTypeName(*list);
    return false;
  }
  Node& group = nodes_[task];
  group.expanded = true;
  group.status = TaskStatus::kRunning;
  group.attempts = 1;
  UpdateView(group);
  group.instances.clear();
  for (size_t k = 0; k < list->size(); ++k) {
    Node inst;
    inst.task = task;
    inst.instance = static_cast<int>(k);
    inst.id = spec.id + "[" + std::to_string(k) + "]";
    inst.item = {{"item", (*list)[k]}, {"index", k}};
    auto prior = prior_instances_.find(inst.id);
    if (prior != prior_instances_.end()) ApplyPrior(inst, prior->second);
    UpdateView(inst);
    nodes_[task].instances.push_back(nodes_.size());
    nodes_.push_back(std::move(inst));
  }
  return true;
}

void RequestRun::AdvanceGroup(size_t task, std::vector<RunAction>* actions) {
  const TaskSpec& spec = tmpl_->tasks[task];
  const std::vector<size_t> instances = nodes_[task].instances;
  int active = 0;
  for (size_t c : instances) {
    const Node& n = nodes_[c];
    if (!IsTerminal(n.status) && (n.busy || n.status != TaskStatus::kPending)) active++;
  }
  bool all_done = true;
  for (size_t c : instances) {
    Node& n = nodes_[c];
    if (IsTerminal(n.status) && !n.busy) continue;
    all_done = false;
    if (AdvanceWaiting(c, actions) || n.busy) continue;
    // Instances follow their group's trigger: a cleanup (all_done) or rollback
    // (any_failed) fan-out still runs after a failure; only all_done survives a cancel.
    if (cancelled_ && spec.trigger != Trigger::kAllDone) {
      n.busy = true;
      actions->push_back({RunAction::Kind::kCancel, c, false, {}, {}, cancel_reason_});
    } else if (failing_ && spec.trigger == Trigger::kAllSucceeded) {
      n.busy = true;
      actions->push_back({RunAction::Kind::kSkip, c, false, {}, {}, {}});
    } else if (spec.concurrency == 0 || active < spec.concurrency) {
      n.busy = true;
      active++;
      actions->push_back({RunAction::Kind::kDispatch, c, false, {}, {}, {}});
    }
  }
  if (!all_done) return;
  int failed = 0, skipped = 0;
  std::string first;
  json outputs = json::array();
  for (size_t c : instances) {
    const Node& n = nodes_[c];
    outputs.push_back(n.view["outputs"]);
    if (n.status == TaskStatus::kFailed) {
      if (failed++ == 0) first = n.id + ": " + n.view["error"].get<std::string>();
    } else if (n.status != TaskStatus::kSucceeded) {
      skipped++;
    }
  }
  RunAction done{RunAction::Kind::kFinishGroup, task, false, "succeeded", outputs, {}};
  if (failed > 0) {
    done.status = "failed";
    done.error = std::to_string(failed) + " of " + std::to_string(instances.size()) +
                 " instances failed; first " + first;
  } else if (skipped > 0) {
    done.status = cancelled_ ? "cancelled" : "skipped";
  }
  nodes_[task].busy = true;
  actions->push_back(std::move(done));
}

int RequestRun::StartAttempt(size_t node, bool recheck) {
  Node& n = nodes_[node];
  if (!recheck) n.attempts += 1;
  n.status = TaskStatus::kRunning;
  UpdateView(n);
  return std::max(n.attempts, 1);
}

void RequestRun::Apply(size_t node, TaskStatus status, json outputs, std::string error) {
  Node& n = nodes_[node];
  n.status = status;
  n.view["outputs"] = outputs.is_null() ? json::object() : std::move(outputs);
  n.view["error"] = error;
  n.cancelling = false;
  if (IsTerminal(status)) n.expanded = false;
  UpdateView(n);
  n.busy = status == TaskStatus::kWaiting;  // a waiting node stays busy until it is due
  if (status != TaskStatus::kFailed || n.instance >= 0) return;
  if (tmpl_->tasks[n.task].on_failure == OnFailure::kContinue) {
    failed_continued_.push_back(n.id);
  } else if (!failing_) {
    failing_ = true;
    first_error_ = "task '" + n.id + "' failed: " + error;
  }
}

void RequestRun::MarkRetry(size_t node) { nodes_[node].retry_next = true; }

void RequestRun::MarkRecheckDue(size_t node) {
  Node& n = nodes_[node];
  if (n.status != TaskStatus::kWaiting || n.cancelling) return;
  n.busy = false;
  n.recheck_due = true;
}

void RequestRun::Cancel(const std::string& reason) {
  if (cancelled_) return;
  cancelled_ = true;
  cancel_reason_ = reason;
  cancel_flag_->store(true);
}

void RequestRun::Expire(const std::string& reason) {
  expired_ = true;
  if (!failing_) {
    failing_ = true;
    first_error_ = reason;
  }
}

ExpressionScope RequestRun::Scope(const Node* instance) const {
  ExpressionScope scope;
  scope.data = data_.get();
  scope.request = &request_view_;
  if (instance) {
    scope.item = &instance->item["item"];
    scope.index = &instance->item["index"];
  }
  scope.task = [this](const std::string& id) -> const json* {
    auto it = tmpl_->index.find(id);
    return it == tmpl_->index.end() ? nullptr : &nodes_[it->second].view;
  };
  return scope;
}

Result<json> RequestRun::ResolveParams(size_t node) const {
  const Node& n = nodes_[node];
  const TaskSpec& spec = tmpl_->tasks[n.task];
  ExpressionScope scope = Scope(n.instance >= 0 ? &n : nullptr);
  static const json kNoSecrets = json::object();
  scope.secrets = secrets_ ? secrets_.get() : &kNoSecrets;
  return ResolveExpressions(spec.params, scope, spec.json_path + "/params");
}

}  // namespace wf
