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

// Blocks until SIGTERM or SIGINT; returns the signal number.
int WaitForStopSignal();

const char* Version();

}  // namespace wf
