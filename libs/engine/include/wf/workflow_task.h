// The "workflow" task type: starts a child request and waits for it, holding no thread.
//
// Params: `template` (name), `data` (object, default {}), `poll_ms` (default 1000). The
// child keeps the parent's trace id and records its parent request and task. Its id is
// derived from "<parent request id>/<task id>", so a re-invoked task (after a crash or a
// retry) finds the child it already started instead of starting another. The task
// succeeds with the child's outputs plus `request_id`, and fails when the child fails.
// Thread-safe like every task module.
#pragma once

#include "wf/request_store.h"
#include "wf/task.h"
#include "wf/template_catalog.h"

namespace wf {

void RegisterWorkflowTask(TaskRegistry* registry, RequestStore& store, TemplateCatalog& catalog);

// A UUID (version 4 layout) derived from `seed` by SHA-256: the same seed, the same id.
std::string DerivedUuid(const std::string& seed);

}  // namespace wf
