// The engine: claims pending requests from PostgreSQL and runs their DAGs.
//
// Threads: a claimer (LISTEN/NOTIFY with a polling fallback, batched FOR UPDATE SKIP
// LOCKED claims), a scheduler that owns every RequestRun and its timers, a worker pool
// that invokes task modules, committer threads that group-commit transitions, and a
// lease keeper that renews the leases of every owned request in one statement.
// Start() once, Stop() once; the accessors are thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "wf/config.h"
#include "wf/core/json_path.h"
#include "wf/task.h"

namespace wf {

class Database;
class Redis;

struct EngineStats {
  int requests = 0;       // requests owned now
  int running_tasks = 0;  // task invocations queued or running
  int64_t claimed = 0;    // requests claimed since start
  int64_t finished = 0;   // requests finished since start
  int64_t tasks_run = 0;  // task invocations since start
  int64_t lost_leases = 0;
  int64_t commit_batches = 0;
  int64_t commit_writes = 0;
  // {"task_duration_seconds": {type: series}, "task_attempts": {type: series},
  //  "claim_latency_seconds": {"": series}}: see wf/core/histogram.h.
  json histograms;
};

class Engine {
 public:
  Engine(const Config& config, const TaskRegistry& registry, Database& db, Redis& redis);
  ~Engine();

  void Start();
  // Stops claiming, lets running invocations finish and their writes commit (bounded by
  // the shutdown grace period), releases the leases still held, joins every thread.
  void Stop();

  const std::string& id() const;
  EngineStats Stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wf
