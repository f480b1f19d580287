// The built-in task modules and their registration.
//
//   noop  succeeds at once; copies its `outputs` param (if any) to the task outputs.
//   http  one REST call over HTTP(S); see http.cpp for the params.
//   rest_job  create a long job over REST once, then poll it (see rest_job.cpp).
//   set   every param, resolved, becomes an output (no side effect).
//   tfe_run  one Terraform Enterprise run: upload, plan, apply (see tfe_run.cpp).
//   awx_job  launch an AWX job template and wait for the job (see awx_job.cpp).
//   exec  run a program: JSON state on stdin, JSON outputs on stdout (see exec.cpp).
//   wait  wait for a duration or until a time without holding a thread (see wait.cpp).
//   http_poll  poll a URL until a condition on the response holds (see http_poll.cpp).
//   notify  a webhook POST or an e-mail over SMTP (see notify.cpp).
//
// The modules keep no state and are thread-safe, as the Task interface requires.
// RegisterBuiltinTasks() mutates the registry: call it at start-up, before the registry is
// shared between threads.
#pragma once

#include <memory>

#include "wf/task.h"

namespace wf {

std::unique_ptr<Task> MakeNoopTask();
std::unique_ptr<Task> MakeHttpTask();
std::unique_ptr<Task> MakeRestJobTask();
std::unique_ptr<Task> MakeSetTask();
std::unique_ptr<Task> MakeTfeRunTask();
std::unique_ptr<Task> MakeAwxJobTask();
std::unique_ptr<Task> MakeExecTask();
std::unique_ptr<Task> MakeWaitTask();
std::unique_ptr<Task> MakeHttpPollTask();
std::unique_ptr<Task> MakeNotifyTask();

// Registers "noop", "set", "http", "rest_job", "tfe_run", "awx_job", "exec", "wait",
// "http_poll" and "notify". ("workflow" needs the store and the catalog: see
// wf/workflow_task.h.)
void RegisterBuiltinTasks(TaskRegistry* registry);

}  // namespace wf
