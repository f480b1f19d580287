// Group commit of task and request transitions.
//
// Writes from every request an engine runs are queued here; each committer thread takes
// all that is queued (up to a batch size) and applies it in one fenced transaction
// (RequestStore::ApplyWrites), then hands the results back through one callback per
// batch. Writes of one request always go to the same thread, so they commit in order.
// A database error is retried with backoff until it succeeds or Stop() is called; a write
// is never silently dropped. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "wf/request_store.h"

namespace wf {

class Committer {
 public:
  // One write and what to do once it is committed: `accepted` says whether the request
  // was still ours; `committed` is the write as stored (a value the database refused
  // turns the write into a failure, see ApplyOneByOne).
  struct Item {
    StoreWrite write;
    std::function<void(bool accepted, const StoreWrite& committed)> done;
  };
  // Called on a committer thread with the items of one committed batch.
  using BatchDone = std::function<void(std::vector<Item> items, std::vector<bool> accepted)>;

  Committer(RequestStore& store, std::string owner, int threads, int max_batch, BatchDone on_done);
  ~Committer();

  void Add(Item item);
  // Writes queued or being committed.
  int pending() const;
  // Blocks until the queue is empty and nothing is being committed, or timeout.
  bool WaitIdle(int timeout_ms);
  void Stop();

  int64_t batches() const;
  int64_t writes() const;

 private:
  struct Shard {
    std::deque<Item> queue;
    bool committing = false;
  };
  void Loop(size_t shard);
  Status ApplyOneByOne(std::vector<StoreWrite>* writes, std::vector<bool>* accepted);

  RequestStore& store_;
  std::string owner_;
  int max_batch_;
  BatchDone on_done_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::vector<Shard> shards_;
  bool stop_ = false;
  int64_t batches_ = 0;
  int64_t writes_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace wf
