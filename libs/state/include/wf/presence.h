// Service presence in Redis: each process writes "wf:presence:<kind>:<id>" with a JSON
// description and a TTL, refreshed by a heartbeat thread; a process that dies disappears
// when its key expires. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "wf/core/json_path.h"
#include "wf/redis.h"

namespace wf {

class Presence {
 public:
  // `describe` is called at each beat for the live part of the record (counters, state).
  Presence(Redis& redis, std::string kind, std::string id, std::string version,
           std::function<json()> describe, int interval_ms = 3000);
  ~Presence();  // stops the heartbeat and deletes the key

  void Start();
  void Stop();

 private:
  void Beat();
  Redis& redis_;
  std::string kind_, id_, version_, started_at_;
  std::function<json()> describe_;
  int interval_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Every live presence record.
Result<std::vector<json>> ListPresence(Redis& redis);

}  // namespace wf
