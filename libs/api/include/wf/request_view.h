// JSON views of stored requests and task runs, as the API returns them. Pure functions.
#pragma once

#include <vector>

#include "wf/core/template.h"
#include "wf/request_store.h"

namespace wf {

// The request with its tasks: one entry per template task, in template order, merged
// with the task runs recorded so far (a task with no run yet is "pending").
json RequestJson(const RequestRow& row, const std::vector<TaskRunRow>& runs, const Template* tmpl);

// `view` (a request as RequestJson shows it, with anything added) without the values of
// the template's secret inputs ("x-secret": true): "data" has them replaced by "***" at
// their schema paths, and every other string (outputs, errors, task state) has them
// masked wherever they occur.
json RedactSecretInputs(json view, const json& data, const Template* tmpl);
// The request alone, for lists.
json RequestSummaryJson(const RequestRow& row);
// {"code", "message", "path"?} wrapped in {"error": ...}.
json ErrorJson(const std::string& code, const std::string& message, const std::string& path = {});
// A template for GET /v1/templates/{name}: its document and its DAG as nodes and edges.
json TemplateJson(const Template& tmpl, bool with_source);

}  // namespace wf
