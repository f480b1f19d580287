// The template model: a workflow template parsed from JSON, validated, and built into a
// DAG of task specs with a topological order.
//
// Parsing reports every structural error with the JSON pointer of the offending value:
// unknown or mistyped fields, duplicate or malformed task ids, unknown dependencies,
// self-dependencies, cycles (with the cycle path), unknown task types and params the task
// module rejects (through the TaskTypeChecker), and expressions that reference tasks that
// are not upstream. A parsed Template is immutable and safe to share between threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "wf/core/condition.h"
#include "wf/core/inputs_schema.h"
#include "wf/core/json_path.h"
#include "wf/core/status.h"

namespace wf {

// How a task's retryable failures are tried again. The delay before attempt n+1 is
// initial_delay_ms * multiplier^(n-1), capped at max_delay_ms, then spread by +/- jitter
// (a fraction). max_attempts counts the first attempt: 1 means no retry.
struct RetryPolicy {
  int max_attempts = 1;
  int64_t initial_delay_ms = 1000;
  double multiplier = 2.0;
  int64_t max_delay_ms = 60000;
  double jitter = 0.2;

  // Delay before the attempt after `attempt` (1-based), with `unit_random` in [0, 1).
  int64_t DelayMs(int attempt, double unit_random) const;
};

// When a task may run, given how its dependencies ended.
enum class Trigger {
  kAllSucceeded,  // every dependency succeeded (the default)
  kAllDone,       // every dependency ended, whatever the result (teardown, cleanup)
  kAnyFailed,     // every dependency ended and at least one failed (rollback, alerting)
};

// What a task's failure does to its request.
enum class OnFailure {
  kFailWorkflow,  // the request fails; tasks not started are skipped, except all_done and
                  // any_failed ones, which still run (the default)
  kContinue,      // the request goes on; it ends "succeeded" with the failed tasks listed
};

struct TaskSpec {
  std::string id;
  std::string type;
  json params = json::object();
  std::vector<std::string> depends_on;
  std::string description;
  RetryPolicy retry;
  Trigger trigger = Trigger::kAllSucceeded;
  OnFailure on_failure = OnFailure::kFailWorkflow;
  // `when`: a condition (false: the task is skipped), or a literal true/false.
  std::shared_ptr<const Condition> when;
  bool when_literal = true;
  int64_t timeout_ms = 0;  // per attempt; 0: none
  // `for_each`: an expression giving a list, or a literal array; null when not a fan-out.
  json for_each;
  int concurrency = 0;    // instances running at once; 0: no limit
  std::string json_path;  // where this task stands in the template, e.g. "/tasks/2"

  bool fan_out() const { return !for_each.is_null(); }
};

const char* TriggerName(Trigger t);

struct Template {
  std::string name;
  std::string version;
  std::string description;
  json inputs = json::object();                       // JSON Schema for the request data
  std::shared_ptr<const InputsSchema> inputs_schema;  // compiled `inputs`
  json outputs = json::object();  // resolved against all tasks when the request ends
  int64_t timeout_ms = 0;         // the whole request's deadline from its start; 0: none
  std::vector<TaskSpec> tasks;    // in file order
  std::string hash;               // ContentHash of the source document (pins a version)
  json source;                    // the document it was parsed from

  // DAG, by index into `tasks`.
  std::vector<std::vector<size_t>> dependencies;
  std::vector<std::vector<size_t>> dependents;
  std::vector<size_t> topo_order;
  std::unordered_map<std::string, size_t> index;

  const TaskSpec* Find(const std::string& id) const {
    auto it = index.find(id);
    return it == index.end() ? nullptr : &tasks[it->second];
  }
};

// One validation problem: where (JSON pointer) and what.
struct TemplateError {
  std::string path;
  std::string message;
};

// Checks a task's type and params at load time. Returns NotFound for an unknown type and
// InvalidArgument (with a path below `json_path`) for params the module rejects.
using TaskTypeChecker = std::function<Status(const std::string& type, const json& params,
                                             const std::string& json_path)>;

// Parses and validates `doc`. On failure the Status carries the first error and `errors`
// (when given) receives all of them.
Result<std::shared_ptr<const Template>> ParseTemplate(const json& doc,
                                                      const TaskTypeChecker& checker,
                                                      std::vector<TemplateError>* errors = nullptr);

// Renders errors one per line: "<path>: <message>".
std::string FormatTemplateErrors(const std::vector<TemplateError>& errors);

}  // namespace wf
