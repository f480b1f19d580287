#include "wf/committer.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "wf/logging.h"

namespace wf {

Committer::Committer(RequestStore& store, std::string owner, int threads, int max_batch,
                     BatchDone on_done)
    : store_(store), owner_(std::move(owner)), max_batch_(max_batch), on_done_(std::move(on_done)) {
  shards_.resize(std::max(threads, 1));
  for (size_t i = 0; i < shards_.size(); ++i) threads_.emplace_back([this, i] { Loop(i); });
}

Committer::~Committer() { Stop(); }

void Committer::Add(Item item) {
  size_t shard = std::hash<std::string>{}(item.write.request_id) % shards_.size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    shards_[shard].queue.push_back(std::move(item));
  }
  cv_.notify_all();
}

int Committer::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& s : shards_) n += static_cast<int>(s.queue.size()) + (s.committing ? 1 : 0);
  return n;
}

bool Committer::WaitIdle(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    for (const auto& s : shards_) {
      if (!s.queue.empty() || s.committing) return false;
    }
    return true;
  });
}

void Committer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

int64_t Committer::batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

int64_t Committer::writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

// A batch the database refused for a reason other than availability (a value it cannot
// store, say): apply its writes one at a time, and turn a write that still fails into a
// failure of its task or request with the database's reason, so one bad value never
// blocks the queue.
Status Committer::ApplyOneByOne(std::vector<StoreWrite>* writes, std::vector<bool>* accepted) {
  accepted->assign(writes->size(), false);
  for (size_t i = 0; i < writes->size(); ++i) {
    StoreWrite& w = (*writes)[i];
    std::vector<bool> one;
    Status s = store_.ApplyWrites(owner_, {w}, &one);
    if (!s.ok() && s.code() != StatusCode::kUnavailable) {
      LogScope scope(w.trace_id, w.request_id, w.task_id);
      spdlog::error("committer: write for request {} refused: {}", w.request_id, s.ToString());
      w.status = "failed";
      w.outputs = nullptr;
      w.error = "result could not be stored: " + s.message();
      w.mark_finished = true;
      w.next_run_in_ms = -1;
      s = store_.ApplyWrites(owner_, {w}, &one);
    }
    if (!s.ok()) return s;
    (*accepted)[i] = one[0];
  }
  return Status::Ok();
}

void Committer::Loop(size_t index) {
  int backoff_ms = 50;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    Shard& shard = shards_[index];
    cv_.wait(lock, [&] { return stop_ || !shard.queue.empty(); });
    if (shard.queue.empty()) return;  // stopping and drained
    std::vector<Item> batch;
    while (!shard.queue.empty() && static_cast<int>(batch.size()) < max_batch_) {
      batch.push_back(std::move(shard.queue.front()));
      shard.queue.pop_front();
    }
    shard.committing = true;
    lock.unlock();

    std::vector<StoreWrite> writes;
    writes.reserve(batch.size());
    for (const auto& item : batch) writes.push_back(item.write);
    std::vector<bool> accepted;
    Status s = store_.ApplyWrites(owner_, writes, &accepted);
    if (!s.ok() && s.code() != StatusCode::kUnavailable) s = ApplyOneByOne(&writes, &accepted);

    lock.lock();
    shard.committing = false;
    if (!s.ok()) {
      // Put the batch back in front, in order, and retry after a pause.
      for (auto it = batch.rbegin(); it != batch.rend(); ++it)
        shard.queue.push_front(std::move(*it));
      if (stop_) {
        spdlog::error("committer: giving up {} writes at shutdown: {}", shard.queue.size(),
                      s.ToString());
        shard.queue.clear();
        idle_cv_.notify_all();
        return;
      }
      spdlog::warn("committer: {} (retrying in {} ms)", s.ToString(), backoff_ms);
      cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stop_; });
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    backoff_ms = 50;
    for (size_t i = 0; i < batch.size(); ++i) batch[i].write = std::move(writes[i]);
    ++batches_;
    writes_ += static_cast<int64_t>(batch.size());
    lock.unlock();
    on_done_(std::move(batch), std::move(accepted));
    lock.lock();
    bool idle = true;
    for (const auto& sh : shards_) idle = idle && sh.queue.empty() && !sh.committing;
    if (idle) idle_cv_.notify_all();
  }
}

}  // namespace wf
