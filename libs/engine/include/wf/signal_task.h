// The "signal" task type: waits, holding no thread, until something outside completes it
// through POST /v1/requests/{id}/tasks/{task}/signal — a manual approval, an external
// system's callback. The signal's outputs become the task's outputs; a signalled error
// fails it. Params: `poll_ms` (default 1000), `wait_ms` (optional: fail when no signal
// came within that long of the first invocation; the start is kept in the task state, so
// it survives restarts). Thread-safe like every task module.
#pragma once

#include "wf/request_store.h"
#include "wf/task.h"

namespace wf {

void RegisterSignalTask(TaskRegistry* registry, RequestStore& store);

}  // namespace wf
