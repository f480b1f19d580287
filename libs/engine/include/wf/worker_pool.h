// A fixed pool of threads running submitted jobs in FIFO order. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace wf {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();  // finishes queued jobs, then joins

  void Submit(std::function<void()> job);
  // Jobs queued or running.
  int busy() const;
  // Blocks until no job is queued or running, or `timeout_ms` passed; true when idle.
  bool WaitIdle(int timeout_ms);
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void Loop();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> queue_;
  int running_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace wf
