// What every process does at start and stop: command line (--config, --help,
// --version), configuration, logging, migrations (with retry while the database comes
// up), and waiting for SIGTERM/SIGINT. Call Init() first, on the main thread, before any
// other thread starts: it blocks the stop signals in every thread created afterwards.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "wf/config.h"
#include "wf/db.h"

namespace wf {

class TaskRegistry;

struct ServiceInit {
  Config config;
  int exit_code = 0;  // set when the process should exit right away (help, bad config)
  bool exit_now = false;
};

// A command-line option of one service only ("--ports-file PATH"), stored into *value.
struct ServiceOption {
  std::string flag;  // "--ports-file"
  std::string help;
  std::string* value;
};

// `name` is "wf-api", "wf-engine"...
ServiceInit InitService(const std::string& name, int argc, char** argv,
                        const std::vector<ServiceOption>& options = {});

// Applies migrations, retrying with backoff until they succeed or `timeout_ms` passes.
Status MigrateWithRetry(Database& db, int timeout_ms);

// Loads the task-module plugins of config.plugins_dir into `registry` (see wf/plugin.h)
// and logs what each one registered or why it was skipped. Call after the built-in
// modules are registered and before any thread but the main one exists.
void LoadTaskPlugins(const Config& config, TaskRegistry* registry);

// Last call before the process exits: ships the log lines still queued (waiting up to
// `drain_ms`; what cannot be sent is counted as dropped) and flushes the loggers.
void StopService(int drain_ms = 2000);

// Blocks until SIGTERM or SIGINT; returns the signal number.
int WaitForStopSignal();

const char* Version();

}  // namespace wf
