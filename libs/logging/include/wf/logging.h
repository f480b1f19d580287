// Process logging on spdlog, with request context.
//
// A LogScope puts a trace, request and task id on the current thread; every line logged
// on that thread while the scope lives carries them ("trace=… request=… task=…"). Scopes
// nest and restore the previous ids when they end. InitLogging() is called once at start;
// everything else is thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace wf {

struct LogIds {
  std::string trace_id;
  std::string request_id;
  std::string task_id;
};

class LogScope {
 public:
  LogScope(std::string trace_id, std::string request_id, std::string task_id = {});
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  LogIds saved_;
};

// The ids of the innermost LogScope on this thread (empty strings when none).
const LogIds& CurrentLogIds();

// Sets the default logger: stderr, "<time> <level> <service> [ids] message".
// `level` is one of trace, debug, info, warn, error; an unknown level is an error.
bool InitLogging(const std::string& service, const std::string& level, std::string* error);

}  // namespace wf
