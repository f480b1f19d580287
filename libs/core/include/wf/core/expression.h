// Expressions inside template values: `${data.x.y}`, `${tasks.<id>.outputs.z}`,
// `${tasks.<id>.status}`, `${request.id}`, `${request.trace_id}`, inside a for_each
// task `${item...}` and `${index}`, and in task params `${secrets.<name>}`.
//
// A string that is exactly one expression resolves to the referenced JSON value with its
// type kept; an expression inside a longer string is interpolated as text (strings as is,
// other values as compact JSON). `$${` writes a literal `${`. Resolved values are never
// parsed again, so request data cannot inject expressions. Pure functions; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "wf/core/json_path.h"
#include "wf/core/status.h"

namespace wf {

// One `${...}` reference: a root (data, tasks, request) and the path below it.
struct Reference {
  std::string root;
  std::vector<std::string> path;  // dot-separated segments; numeric ones index arrays
  std::string text;               // the original text between `${` and `}`
};

// A reference found in a JSON value, with the JSON pointer of the string holding it.
struct FoundReference {
  Reference ref;
  std::string json_path;
};

// Parses one string into its references. Returns an error naming the JSON path for an
// unterminated `${`, an empty expression, an unknown root or a malformed path.
Status ParseReferences(std::string_view text, const std::string& json_path,
                       std::vector<FoundReference>* out);

// Walks every string in `value` (object keys are never expressions) and collects the
// references; stops at the first malformed one.
Status CollectReferences(const json& value, const std::string& json_path,
                         std::vector<FoundReference>* out);

// What expressions resolve against. `task` returns the view of a task
// ({"status": ..., "outputs": ...}) or nullptr when the task is unknown to the scope.
struct ExpressionScope {
  const json* data = nullptr;
  const json* request = nullptr;
  const json* item = nullptr;   // the current element inside a for_each task
  const json* index = nullptr;  // its position
  // Name -> value of the engine's secrets; only task params resolve them (a null here
  // makes `${secrets...}` an error), so no secret reaches template outputs or conditions.
  const json* secrets = nullptr;
  std::function<const json*(const std::string& task_id)> task;
};

// Resolves every expression in `value`. A missing key or index is an error that says
// which expression and where.
Result<json> ResolveExpressions(const json& value, const ExpressionScope& scope,
                                const std::string& json_path = "");

}  // namespace wf
