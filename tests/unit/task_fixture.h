// A TaskContext for unit tests of task modules: in-memory state that survives between
// invocations (like the Redis-backed state survives restarts), a cancellation flag and a
// logger that keeps the lines it was given.
#pragma once

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "wf/task.h"

namespace wf::test {

class MemoryTaskState : public TaskState {
 public:
  Result<std::optional<json>> Get(const std::string& key) override {
    if (fail_reads) return Status::Unavailable("task state: reads fail (test)");
    auto it = values_.find(key);
    if (it == values_.end()) return std::optional<json>();
    return std::optional<json>(it->second);
  }
  Status Set(const std::string& key, const json& value) override {
    if (fail_writes) return Status::Unavailable("task state: writes fail (test)");
    values_[key] = value;
    return Status::Ok();
  }
  Result<bool> Has(const std::string& key) override {
    if (fail_reads) return Status::Unavailable("task state: reads fail (test)");
    return values_.count(key) > 0;
  }
  Status Erase(const std::string& key) override {
    if (fail_writes) return Status::Unavailable("task state: writes fail (test)");
    values_.erase(key);
    return Status::Ok();
  }
  const std::map<std::string, json>& values() const { return values_; }

  // Make every read (Get, Has) or write (Set, Erase) fail, as when Redis is down.
  bool fail_reads = false;
  bool fail_writes = false;

 private:
  std::map<std::string, json> values_;
};

// One task of one request. Invoke() builds a fresh context each time (as the engine does
// for every attempt or recheck) over the same state.
class TaskFixture {
 public:
  explicit TaskFixture(std::string task_id = "t1", std::string request_id = "req-1",
                       std::string trace_id = "trace-1")
      : task_id_(std::move(task_id)),
        request_id_(std::move(request_id)),
        trace_id_(std::move(trace_id)),
        sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_stream_)),
        logger_("task", sink_) {
    logger_.set_pattern("%l %v");
    logger_.set_level(spdlog::level::trace);
  }

  TaskOutcome Invoke(const Task& task, const json& params, int attempt = 1,
                     std::chrono::milliseconds budget = std::chrono::seconds(30)) {
    TaskContext ctx(params, data, request_id_, trace_id_, task_id_, attempt, &state, &logger_,
                    std::chrono::steady_clock::now() + budget, &cancelled);
    return task.Run(ctx);
  }

  // Everything logged through ctx.log() so far, one "level message" per line.
  std::string Log() {
    logger_.flush();
    return log_stream_.str();
  }

  json data = json::object();
  MemoryTaskState state;
  std::atomic<bool> cancelled{false};

 private:
  std::string task_id_;
  std::string request_id_;
  std::string trace_id_;
  std::ostringstream log_stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  spdlog::logger logger_;
};

}  // namespace wf::test
