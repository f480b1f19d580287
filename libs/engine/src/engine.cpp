#include "wf/engine.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <thread>
#include <unordered_map>

#include "wf/committer.h"
#include "wf/core/histogram.h"
#include "wf/db.h"
#include "wf/logging.h"
#include "wf/redact.h"
#include "wf/redis.h"
#include "wf/redis_task_state.h"
#include "wf/request_run.h"
#include "wf/request_store.h"
#include "wf/worker_pool.h"

namespace wf {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kChannel = "wf_requests";

class Wakeup : public pqxx::notification_receiver {
 public:
  Wakeup(pqxx::connection_base& c) : pqxx::notification_receiver(c, kChannel) {}
  void operator()(const std::string&, int) override {}
};

// NOTIFY wf_cancel '<request id>': hands the id to `on_cancel`.
class CancelListener : public pqxx::notification_receiver {
 public:
  CancelListener(pqxx::connection_base& c, std::function<void(const std::string&)> on_cancel)
      : pqxx::notification_receiver(c, "wf_cancel"), on_cancel_(std::move(on_cancel)) {}
  void operator()(const std::string& payload, int) override { on_cancel_(payload); }

 private:
  std::function<void(const std::string&)> on_cancel_;
};

std::string DefaultEngineId() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

}  // namespace

class Engine::Impl {
 public:
  Impl(const Config& config, const TaskRegistry& registry, Database& db, Redis& redis)
      : config_(config),
        cfg_(config.engine),
        registry_(registry),
        db_(db),
        redis_(redis),
        store_(db),
        id_(cfg_.id.empty() ? DefaultEngineId() : cfg_.id),
        workers_(cfg_.workers),
        committer_(store_, id_, cfg_.committers, cfg_.commit_batch,
                   [this](std::vector<Committer::Item> items, std::vector<bool> accepted) {
                     Post([items = std::move(items), accepted = std::move(accepted)]() mutable {
                       for (size_t i = 0; i < items.size(); ++i) {
                         items[i].done(accepted[i], items[i].write);
                       }
                     });
                   }) {}

  ~Impl() { Stop(); }

  void Start() {
    scheduler_ = std::thread([this] { SchedulerLoop(); });
    claimer_ = std::thread([this] { ClaimLoop(); });
    lease_keeper_ = std::thread([this] { LeaseLoop(); });
    spdlog::info("engine {} started: {} workers, up to {} requests, lease {} ms", id_, cfg_.workers,
                 cfg_.max_inflight, cfg_.lease_ms);
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    spdlog::info("engine {} stopping: no new claims, draining for up to {} ms", id_,
                 cfg_.shutdown_grace_ms);
    stopping_ = true;
    draining_ = true;
    capacity_cv_.notify_all();
    db_.Run([](pqxx::connection_base& c) {  // wakes the claimer out of its LISTEN wait
      pqxx::nontransaction tx(c);
      tx.exec(std::string("SELECT pg_notify('") + kChannel + "', '')");
    });
    if (claimer_.joinable()) claimer_.join();

    auto deadline = Clock::now() + std::chrono::milliseconds(cfg_.shutdown_grace_ms);
    while (Clock::now() < deadline) {
      if (workers_.busy() == 0 && committer_.pending() == 0 && SchedulerIdle()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    {
      std::lock_guard<std::mutex> lock(sched_mu_);
      sched_stop_ = true;
    }
    sched_cv_.notify_all();
    if (scheduler_.joinable()) scheduler_.join();
    committer_.WaitIdle(std::max<int>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
    committer_.Stop();

    std::vector<LeaseRef> held = LeaseSnapshot();
    Status s = store_.ReleaseLeases(id_, held);
    if (!s.ok()) {
      spdlog::error("engine {}: releasing {} leases failed: {}", id_, held.size(), s.ToString());
    } else {
      spdlog::info("engine {}: released {} leases", id_, held.size());
    }
    {
      std::lock_guard<std::mutex> lock(lease_mu_);
      lease_stop_ = true;
    }
    lease_cv_.notify_all();
    if (lease_keeper_.joinable()) lease_keeper_.join();
    int still = workers_.busy();
    if (still > 0) {
      spdlog::warn("engine {}: {} task invocations still running after the grace period", id_,
                   still);
    }
  }

  const std::string& id() const { return id_; }
  void SetSecrets(std::shared_ptr<const json> secrets) {
    engine_secret_values_.clear();
    for (const auto& [_, v] : secrets->items()) {
      if (v.is_string()) engine_secret_values_.push_back(v.get<std::string>());
    }
    engine_secret_scope_ = ScopedSecrets(engine_secret_values_);
    engine_secrets_ = std::move(secrets);
  }

  EngineStats Stats() const {
    EngineStats s;
    s.requests = inflight_.load();
    s.running_tasks = workers_.busy();
    s.claimed = claimed_.load();
    s.finished = finished_.load();
    s.tasks_run = tasks_run_.load();
    s.lost_leases = lost_.load();
    s.commit_batches = committer_.batches();
    s.commit_writes = committer_.writes();
    s.histograms = {{"task_duration_seconds", task_duration_.ToJson()},
                    {"task_attempts", task_attempts_.ToJson()},
                    {"claim_latency_seconds", claim_latency_.ToJson()}};
    return s;
  }

  // True when no invocation is outstanding (workers idle and nothing queued to commit).
  bool Quiet() const { return workers_.busy() == 0 && committer_.pending() == 0; }

 private:
  // ---------------------------------------------------------------- scheduler thread
  // The `running` row of a task invocation that has just started. An invocation that
  // ends within kStartWriteDelay has its start folded into its result's write, which
  // saves a commit between a task and its dependents; a longer one shows `running` after
  // that delay. The row is for people: a task whose result was not committed runs again
  // after a take-over either way. Scheduler thread only.
  struct StartWrite {
    bool done = false;  // written, or folded into the result's write
  };
  static constexpr std::chrono::milliseconds kStartWriteDelay{20};
  // A pending task rechecked sooner than this is not written again at each recheck.
  static constexpr std::chrono::milliseconds kUnrecordedRecheck{10000};

  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(sched_mu_);
      sched_queue_.push_back(std::move(fn));
    }
    sched_cv_.notify_one();
  }

  void PostAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(sched_mu_);
      timers_.emplace(Clock::now() + delay, std::move(fn));
    }
    sched_cv_.notify_one();
  }

  bool SchedulerIdle() {
    std::lock_guard<std::mutex> lock(sched_mu_);
    return sched_queue_.empty() && !sched_busy_;
  }

  void SchedulerLoop() {
    std::unique_lock<std::mutex> lock(sched_mu_);
    std::vector<std::function<void()>> batch;
    while (!sched_stop_) {
      auto now = Clock::now();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        sched_queue_.push_back(std::move(timers_.begin()->second));
        timers_.erase(timers_.begin());
      }
      if (sched_queue_.empty()) {
        if (timers_.empty()) {
          sched_cv_.wait(lock);
        } else {
          sched_cv_.wait_until(lock, timers_.begin()->first);
        }
        continue;
      }
      batch.assign(std::make_move_iterator(sched_queue_.begin()),
                   std::make_move_iterator(sched_queue_.end()));
      sched_queue_.clear();
      sched_busy_ = true;
      lock.unlock();
      for (auto& fn : batch) fn();
      batch.clear();
      lock.lock();
      sched_busy_ = false;
    }
  }

  RequestRun* FindRun(const std::string& id, int64_t epoch) {
    auto it = runs_.find(id);
    if (it == runs_.end() || it->second->request().epoch != epoch) return nullptr;
    return it->second.get();
  }

  void AddRun(std::unique_ptr<RequestRun> run) {
    const ClaimedRequest& r = run->request();
    LogScope scope(r.trace_id, r.id);
    spdlog::info("claimed request (template {}, epoch {}, claim {})", r.template_name, r.epoch,
                 r.claims);
    RequestRun* raw = run.get();
    // The values of the template's secret inputs are masked in every log line while the
    // request runs here.
    secrets_[r.id] = ScopedSecrets(SecretValuesBySchema(raw->tmpl().inputs, r.data));
    if (r.cancel_requested) raw->Cancel("cancelled by request");
    auto existing = runs_.find(r.id);
    if (existing != runs_.end()) {
      // This engine claimed the request again after its own lease expired (say the
      // database was away longer than a lease): the older run is stale and gives way.
      spdlog::warn("re-claimed after its lease expired; epoch {} replaces {}", r.epoch,
                   existing->second->request().epoch);
      existing->second = std::move(run);
      inflight_--;
    } else {
      runs_[r.id] = std::move(run);
    }
    if (raw->tmpl().timeout_ms > 0) {
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      const int64_t left = r.started_at_ms + raw->tmpl().timeout_ms - now_ms;
      std::string id = r.id;
      int64_t epoch = r.epoch, limit = raw->tmpl().timeout_ms;
      PostAfter(std::chrono::milliseconds(std::max<int64_t>(0, left)), [this, id, epoch, limit] {
        RequestRun* run = FindRun(id, epoch);
        if (!run || run->finishing()) return;
        LogScope scope(run->request().trace_id, id);
        spdlog::warn("request deadline of {} ms exceeded", limit);
        run->Expire("request deadline of " + std::to_string(limit) + " ms exceeded");
        Advance(run);
      });
    }
    Advance(raw);
  }

  void Advance(RequestRun* run) {
    for (auto& action : run->Advance()) {
      const size_t node = action.node;
      switch (action.kind) {
        case RunAction::Kind::kDispatch:
          if (!draining_) Dispatch(run, node, action.recheck);
          break;
        case RunAction::Kind::kSkip:
        case RunAction::Kind::kCancel: {
          bool skip = action.kind == RunAction::Kind::kSkip;
          if (!skip && action.recheck && !draining_) {
            StopOutsideWork(run, node, action.error);
            break;
          }
          StoreWrite w =
              TaskWrite(*run, node, skip ? TaskStatus::kSkipped : TaskStatus::kCancelled);
          w.error = action.error;
          w.mark_finished = true;
          Commit(run, node, std::move(w));
          break;
        }
        case RunAction::Kind::kFail:
          OnResult(run->request().id, run->request().epoch, node,
                   TaskOutcome::Failed(action.error));
          break;
        case RunAction::Kind::kStartGroup: {
          StoreWrite w = TaskWrite(*run, node, TaskStatus::kRunning);
          w.mark_started = true;
          CommitQuietly(*run, std::move(w));
          break;
        }
        case RunAction::Kind::kFinishGroup: {
          TaskStatus status = TaskStatus::kFailed;
          ParseTaskStatus(action.status, &status);
          StoreWrite w = TaskWrite(*run, node, status);
          w.outputs = std::move(action.outputs);
          w.error = action.error;
          w.mark_finished = true;
          LogScope scope(run->request().trace_id, run->request().id, run->node_id(node));
          spdlog::info("fan-out {} ended: {}{}", run->node_id(node), action.status,
                       action.error.empty() ? "" : " (" + action.error + ")");
          Commit(run, node, std::move(w));
          break;
        }
        case RunAction::Kind::kFinish:
          Finish(run, action.status, std::move(action.outputs), action.error);
          break;
      }
    }
  }

  StoreWrite TaskWrite(const RequestRun& run, size_t node, TaskStatus status) {
    StoreWrite w;
    w.kind = StoreWrite::Kind::kTask;
    w.request_id = run.request().id;
    w.trace_id = run.request().trace_id;
    w.epoch = run.request().epoch;
    w.task_id = run.node_id(node);
    w.type = run.spec(node).type;
    w.status = TaskStatusName(status);
    w.attempts = run.attempts(node);
    return w;
  }

  // A write nothing waits for (a task or group starting); a refusal still drops the run.
  void CommitQuietly(const RequestRun& run, StoreWrite w) {
    std::string id = run.request().id;
    int64_t epoch = run.request().epoch;
    committer_.Add({std::move(w), [this, id, epoch](bool accepted, const StoreWrite&) {
                      if (!accepted) LoseRun(id, epoch);
                    }});
  }

  // `retry`: a kWaiting write that waits for a new attempt rather than a recheck.
  void Commit(RequestRun* run, size_t task, StoreWrite w, bool retry = false) {
    std::string id = run->request().id;
    int64_t epoch = run->request().epoch;
    committer_.Add(
        {std::move(w), [this, id, epoch, task, retry](bool accepted, const StoreWrite& c) {
           RequestRun* run = FindRun(id, epoch);
           if (!run) return;
           if (!accepted) return LoseRun(id, epoch);
           Applied(run, task, c, retry);
         }});
  }

  // A task transition is durable (or needs no write): the DAG moves on.
  void Applied(RequestRun* run, size_t task, const StoreWrite& c, bool retry) {
    TaskStatus status = TaskStatus::kFailed;
    ParseTaskStatus(c.status, &status);
    run->Apply(task, status, c.outputs, c.error);
    if (status == TaskStatus::kWaiting && retry) run->MarkRetry(task);
    if (status == TaskStatus::kWaiting) {
      PostAfter(std::chrono::milliseconds(std::max<int64_t>(c.next_run_in_ms, 0)),
                [this, id = run->request().id, epoch = run->request().epoch, task] {
                  RequestRun* run = FindRun(id, epoch);
                  if (!run) return;
                  run->MarkRecheckDue(task);
                  Advance(run);
                });
    }
    Advance(run);
  }

  void Dispatch(RequestRun* run, size_t index, bool recheck) {
    const ClaimedRequest& r = run->request();
    const TaskSpec& spec = run->spec(index);
    const std::string& node_id = run->node_id(index);
    int attempt = run->StartAttempt(index, recheck);
    LogScope scope(r.trace_id, r.id, node_id);
    auto params = run->ResolveParams(index);
    if (!params.ok()) {
      spdlog::error("task params: {}", params.status().ToString());
      OnResult(r.id, r.epoch, index, TaskOutcome::Failed(params.status().ToString()));
      return;
    }
    std::shared_ptr<StartWrite> start_write;
    if (!recheck) {
      start_write = std::make_shared<StartWrite>();
      StoreWrite w = TaskWrite(*run, index, TaskStatus::kRunning);
      w.mark_started = true;
      PostAfter(kStartWriteDelay, [this, start = start_write, id = r.id, epoch = r.epoch,
                                   w = std::move(w)]() mutable {
        if (start->done) return;
        start->done = true;
        if (RequestRun* run = FindRun(id, epoch)) CommitQuietly(*run, std::move(w));
      });
      spdlog::info("task {} ({}) attempt {} started, params {}", node_id, spec.type, attempt,
                   params->dump());
    } else {
      spdlog::debug("task {} ({}) attempt {} checked again", node_id, spec.type, attempt);
    }
    const Task* task = registry_.Find(spec.type);
    const int64_t timeout_ms = spec.timeout_ms;
    tasks_run_++;
    workers_.Submit([this, task, params = std::move(*params), data = run->data(), id = r.id,
                     trace = r.trace_id, epoch = r.epoch, task_id = node_id, index, attempt,
                     timeout_ms, cancel = run->cancel_flag(), type = spec.type, start_write] {
      LogScope scope(trace, id, task_id);
      RedisTaskState state(redis_, id, task_id);
      const auto start = Clock::now();
      const auto deadline =
          start + (timeout_ms > 0 ? std::chrono::milliseconds(timeout_ms) : std::chrono::hours(24));
      TaskContext ctx(params, *data, id, trace, task_id, attempt, &state,
                      spdlog::default_logger_raw(), deadline, cancel.get());
      TaskOutcome outcome;
      try {
        outcome = task ? task->Run(ctx) : TaskOutcome::Failed("no module for this task type");
      } catch (const std::exception& e) {
        outcome = TaskOutcome::Failed(std::string("task threw: ") + e.what());
      } catch (...) {
        outcome = TaskOutcome::Failed("task threw a non-standard exception");
      }
      task_duration_.Observe(type, std::chrono::duration<double>(Clock::now() - start).count());
      if (timeout_ms > 0 && Clock::now() > deadline) {
        outcome =
            TaskOutcome::Failed("attempt timed out after " + std::to_string(timeout_ms) + " ms",
                                /*retryable=*/true);
      }
      Post([this, id, epoch, index, start_write, outcome = std::move(outcome)]() mutable {
        OnResult(id, epoch, index, std::move(outcome), start_write.get());
      });
    });
  }

  // A waiting task whose request is cancelled (or out of time) may have a job running
  // outside (a TFE run, an AWX job): its module is invoked once more with ctx.cancelled()
  // set so it can stop that job, then the task is recorded cancelled whatever it answers.
  void StopOutsideWork(RequestRun* run, size_t index, const std::string& reason) {
    const ClaimedRequest& r = run->request();
    const std::string& node_id = run->node_id(index);
    const TaskSpec& spec = run->spec(index);
    LogScope scope(r.trace_id, r.id, node_id);
    auto params = run->ResolveParams(index);
    const Task* task = registry_.Find(spec.type);
    auto record = [this, id = r.id, epoch = r.epoch, index, reason] {
      RequestRun* run = FindRun(id, epoch);
      if (!run) return;
      StoreWrite w = TaskWrite(*run, index, TaskStatus::kCancelled);
      w.error = reason;
      w.mark_finished = true;
      Commit(run, index, std::move(w));
    };
    if (!params.ok() || !task) {
      record();
      return;
    }
    spdlog::info("task {} ({}): invoking it once more to stop its outside work", node_id,
                 spec.type);
    auto stop = std::make_shared<std::atomic<bool>>(true);
    const int64_t timeout_ms = spec.timeout_ms > 0 ? spec.timeout_ms : 30000;
    workers_.Submit([this, task, params = std::move(*params), data = run->data(), id = r.id,
                     trace = r.trace_id, task_id = node_id, attempt = run->attempts(index),
                     timeout_ms, stop, record] {
      LogScope scope(trace, id, task_id);
      RedisTaskState state(redis_, id, task_id);
      TaskContext ctx(params, *data, id, trace, task_id, attempt, &state,
                      spdlog::default_logger_raw(),
                      Clock::now() + std::chrono::milliseconds(timeout_ms), stop.get());
      try {
        TaskOutcome o = task->Run(ctx);
        spdlog::info("task {} stopped: {}", task_id,
                     o.kind == TaskOutcome::Kind::kFailed ? o.error
                                                          : "its module answered "
                                                            "without an error");
      } catch (const std::exception& e) {
        spdlog::warn("task {}: stopping it threw: {}", task_id, e.what());
      }
      Post(record);
    });
  }

  // `start`: the invocation's start write, folded into this result's write when it has not
  // gone out yet.
  void OnResult(const std::string& id, int64_t epoch, size_t index, TaskOutcome outcome,
                StartWrite* start = nullptr) {
    RequestRun* run = FindRun(id, epoch);
    if (!run) return;  // lease lost meanwhile: the new owner decides
    const bool fold_start = start && !start->done;
    if (start) start->done = true;
    // A module that echoes a credential must not get it stored, shown or passed on.
    if (!engine_secret_values_.empty()) {
      outcome.outputs = RedactValues(outcome.outputs, engine_secret_values_);
      outcome.error = RedactValues(json(outcome.error), engine_secret_values_).get<std::string>();
    }
    const TaskSpec& spec = run->spec(index);
    const std::string& node_id = run->node_id(index);
    LogScope scope(run->request().trace_id, id, node_id);
    StoreWrite w;
    switch (outcome.kind) {
      case TaskOutcome::Kind::kSucceeded:
        w = TaskWrite(*run, index, TaskStatus::kSucceeded);
        w.outputs = outcome.outputs.is_null() ? json::object() : std::move(outcome.outputs);
        w.mark_finished = true;
        task_attempts_.Observe(spec.type, run->attempts(index));
        spdlog::info("task {} succeeded (attempt {})", node_id, run->attempts(index));
        break;
      case TaskOutcome::Kind::kFailed:
        if (outcome.retryable && run->attempts(index) < spec.retry.max_attempts) {
          w = TaskWrite(*run, index, TaskStatus::kWaiting);
          w.error = outcome.error.empty() ? "failed" : outcome.error;
          w.next_run_in_ms = spec.retry.DelayMs(run->attempts(index), unit_(rng_));
          w.mark_started = fold_start;
          spdlog::warn("task {} failed (attempt {} of {}), retrying in {} ms: {}", node_id,
                       run->attempts(index), spec.retry.max_attempts, w.next_run_in_ms, w.error);
          Commit(run, index, std::move(w), /*retry=*/true);
          return;
        }
        w = TaskWrite(*run, index, TaskStatus::kFailed);
        w.error = outcome.error.empty() ? "failed" : outcome.error;
        w.mark_finished = true;
        task_attempts_.Observe(spec.type, run->attempts(index));
        spdlog::warn("task {} failed (attempt {}{}): {}", node_id, run->attempts(index),
                     outcome.retryable ? ", retryable" : "", w.error);
        break;
      case TaskOutcome::Kind::kPending:
        w = TaskWrite(*run, index, TaskStatus::kWaiting);
        w.next_run_in_ms = outcome.recheck_after.count();
        spdlog::debug("task {} pending, recheck in {} ms", node_id, w.next_run_in_ms);
        // A recheck that is still pending changes nothing durable: the row says `waiting`
        // already, and after a take-over a waiting task is checked again at once whatever
        // its next_run_at. Short polls skip the write (10,000 polling tasks would otherwise
        // cost 10,000 commits a second); longer ones record their next check time.
        if (!start && outcome.recheck_after < kUnrecordedRecheck) {  // !start: a recheck
          Applied(run, index, w, /*retry=*/false);
          return;
        }
        break;
    }
    w.mark_started = fold_start;
    Commit(run, index, std::move(w));
  }

  void Finish(RequestRun* run, const std::string& status, json outputs, const std::string& error) {
    const ClaimedRequest& r = run->request();
    StoreWrite w;
    w.kind = StoreWrite::Kind::kFinish;
    w.request_id = r.id;
    w.trace_id = r.trace_id;
    w.epoch = r.epoch;
    w.status = status;
    w.outputs = std::move(outputs);
    w.error = error;
    std::string id = r.id;
    int64_t epoch = r.epoch;
    committer_.Add({std::move(w), [this, id, epoch](bool accepted, const StoreWrite& c) {
                      RequestRun* run = FindRun(id, epoch);
                      if (!run) return;
                      if (!accepted) return LoseRun(id, epoch);
                      LogScope scope(run->request().trace_id, id);
                      if (c.status == "succeeded") {
                        spdlog::info("request {}", c.status);
                      } else {
                        spdlog::warn("request {}: {}", c.status, c.error);
                      }
                      // The request's last line is out: its log can be sealed.
                      SendLogSeal(run->request().trace_id, id);
                      finished_++;
                      DropRun(id);
                      workers_.Submit([this, id] {
                        Status s = ExpireRequestState(redis_, id, cfg_.state_retention_s);
                        if (!s.ok()) {
                          spdlog::warn("request {}: setting task variables to expire: {}", id,
                                       s.ToString());
                        }
                      });
                    }});
  }

  // Cancellation asked for through the API (NOTIFY wf_cancel, or seen at lease renewal).
  void CancelRun(const std::string& id) {
    auto it = runs_.find(id);
    if (it == runs_.end() || it->second->cancelled() || it->second->finishing()) return;
    RequestRun* run = it->second.get();
    LogScope scope(run->request().trace_id, id);
    spdlog::info("cancelling: tasks not started are cancelled, running ones are told to stop");
    run->Cancel("cancelled by request");
    Advance(run);
  }

  void LoseRun(const std::string& id, int64_t epoch) {
    RequestRun* run = FindRun(id, epoch);
    if (!run) return;
    LogScope scope(run->request().trace_id, id);
    spdlog::warn("lease lost (epoch {}): another engine owns the request now; stopping work on it",
                 epoch);
    lost_++;
    DropRun(id);
  }

  void DropRun(const std::string& id) {
    runs_.erase(id);
    secrets_.erase(id);
    {
      std::lock_guard<std::mutex> lock(lease_mu_);
      leases_.erase(id);
    }
    inflight_--;
    capacity_cv_.notify_all();
  }

  // ---------------------------------------------------------------- claimer thread
  void ClaimLoop() {
    std::unique_ptr<pqxx::connection> listen;
    std::unique_ptr<Wakeup> wakeup;
    std::unique_ptr<CancelListener> cancels;
    int backoff_ms = 100;
    Clock::time_point last_expired_scan{};
    auto pause = [&](int ms) {
      std::unique_lock<std::mutex> lock(capacity_mu_);
      capacity_cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_.load(); });
    };
    while (!stopping_) {
      if (!listen) {
        try {
          listen = std::make_unique<pqxx::connection>(db_.url());
          wakeup = std::make_unique<Wakeup>(*listen);
          cancels = std::make_unique<CancelListener>(
              *listen, [this](const std::string& id) { Post([this, id] { CancelRun(id); }); });
          backoff_ms = 100;
        } catch (const std::exception& e) {
          cancels.reset();
          wakeup.reset();
          listen.reset();
          spdlog::warn("engine {}: cannot listen for new requests: {} (retrying in {} ms)", id_,
                       e.what(), backoff_ms);
          pause(backoff_ms);
          backoff_ms = std::min(backoff_ms * 2, 5000);
          continue;
        }
      }
      int room = cfg_.max_inflight - inflight_.load();
      if (room <= 0) {
        std::unique_lock<std::mutex> lock(capacity_mu_);
        capacity_cv_.wait_for(lock, std::chrono::milliseconds(cfg_.poll_ms), [&] {
          return stopping_.load() || inflight_.load() < cfg_.max_inflight;
        });
        continue;
      }
      int want = std::min(room, cfg_.claim_batch);
      // Expired leases are looked for once per poll interval, not in every claim of a
      // backlog: that scan cost more than the claim itself while a backlog drained.
      const auto now = Clock::now();
      const bool take_expired = now - last_expired_scan >= std::chrono::milliseconds(cfg_.poll_ms);
      auto claimed = store_.Claim(id_, want, cfg_.lease_ms, take_expired);
      if (claimed.ok() && take_expired) last_expired_scan = now;
      if (!claimed.ok()) {
        spdlog::warn("engine {}: claim failed: {} (retrying in {} ms)", id_,
                     claimed.status().ToString(), backoff_ms);
        pause(backoff_ms);
        backoff_ms = std::min(backoff_ms * 2, 5000);
        continue;
      }
      backoff_ms = 100;
      // Read the size before TakeOver moves the batch away: a full batch means more may
      // be waiting, so claim again at once rather than wait for a notification.
      const bool full = static_cast<int>(claimed->size()) == want;
      if (!claimed->empty()) TakeOver(std::move(*claimed));
      if (full) continue;
      try {
        listen->await_notification(cfg_.poll_ms / 1000, (cfg_.poll_ms % 1000) * 1000);
      } catch (const std::exception& e) {
        spdlog::warn("engine {}: listen connection lost: {}", id_, e.what());
        cancels.reset();
        wakeup.reset();
        listen.reset();
      }
    }
    cancels.reset();
    wakeup.reset();
    listen.reset();
  }

  // Builds runs for freshly claimed requests and hands them to the scheduler.
  void TakeOver(std::vector<ClaimedRequest> claimed) {
    claimed_ += static_cast<int64_t>(claimed.size());
    inflight_ += static_cast<int>(claimed.size());
    for (const auto& c : claimed) {
      if (c.claim_latency_s >= 0) claim_latency_.Observe("", c.claim_latency_s);
    }
    {
      std::lock_guard<std::mutex> lock(lease_mu_);
      for (const auto& c : claimed) leases_[c.id] = c.epoch;
    }
    // Requests claimed before were interrupted, and re-runs may start with copied task
    // runs: load what their tasks had committed.
    std::vector<std::string> resumed;
    for (const auto& c : claimed) {
      if (c.claims > 1 || c.is_rerun) resumed.push_back(c.id);
    }
    std::unordered_map<std::string, std::vector<TaskRunRow>> prior;
    if (!resumed.empty()) {
      auto rows = store_.LoadTaskRuns(resumed);
      if (!rows.ok()) {
        // Without the committed task states the DAG cannot resume safely: give the
        // requests back and let a later claim try again.
        spdlog::warn("engine {}: loading task states failed: {}", id_, rows.status().ToString());
        std::vector<LeaseRef> give_back;
        for (const auto& c : claimed) give_back.push_back({c.id, c.epoch});
        store_.ReleaseLeases(id_, give_back);
        std::lock_guard<std::mutex> lock(lease_mu_);
        for (const auto& c : claimed) leases_.erase(c.id);
        inflight_ -= static_cast<int>(claimed.size());
        return;
      }
      for (auto& row : *rows) prior[row.request_id].push_back(std::move(row));
    }
    std::vector<std::unique_ptr<RequestRun>> runs;
    std::vector<std::pair<ClaimedRequest, std::string>> rejected;
    for (auto& c : claimed) {
      if (c.claims > cfg_.max_claims) {
        rejected.emplace_back(std::move(c),
                              "quarantined: taken over " + std::to_string(c.claims - 1) +
                                  " times after its engine stopped without finishing it "
                                  "(engine.max_claims = " +
                                  std::to_string(cfg_.max_claims) + ")");
        continue;
      }
      auto tmpl = TemplateFor(c.template_hash);
      if (!tmpl.ok()) {
        rejected.emplace_back(std::move(c), "template: " + tmpl.status().ToString());
        continue;
      }
      const std::vector<TaskRunRow>& rows = prior[c.id];
      runs.push_back(std::make_unique<RequestRun>(std::move(c), *tmpl, rows));
      runs.back()->set_secrets(engine_secrets_);
    }
    // std::function must be copyable: the runs travel in a shared vector.
    auto shared = std::make_shared<std::vector<std::unique_ptr<RequestRun>>>(std::move(runs));
    Post([this, shared, rejected = std::move(rejected)]() mutable {
      for (auto& run : *shared) AddRun(std::move(run));
      for (auto& [c, error] : rejected) {
        auto run = std::make_unique<RequestRun>(c, FailedPlaceholder(), std::vector<TaskRunRow>{});
        RequestRun* raw = run.get();
        runs_[c.id] = std::move(run);
        LogScope scope(c.trace_id, c.id);
        spdlog::error("request cannot run: {}", error);
        Finish(raw, "failed", nullptr, error);
      }
    });
  }

  // A one-task template used to carry a request that is failed without running.
  std::shared_ptr<const Template> FailedPlaceholder() {
    static const std::shared_ptr<const Template> kPlaceholder = [] {
      auto t = ParseTemplate(
          json{{"name", "unrunnable"}, {"tasks", {{{"id", "none"}, {"type", "none"}}}}}, nullptr);
      return *t;
    }();
    return kPlaceholder;
  }

  Result<std::shared_ptr<const Template>> TemplateFor(const std::string& hash) {
    auto it = templates_.find(hash);
    if (it != templates_.end()) return it->second;
    auto body = store_.LoadTemplateBody(hash);
    if (!body.ok()) return body.status();
    auto parsed = ParseTemplate(*body, registry_.Checker());
    if (!parsed.ok()) return parsed.status();
    templates_[hash] = *parsed;
    return *parsed;
  }

  // ---------------------------------------------------------------- lease keeper
  std::vector<LeaseRef> LeaseSnapshot() {
    std::lock_guard<std::mutex> lock(lease_mu_);
    std::vector<LeaseRef> out;
    out.reserve(leases_.size());
    for (const auto& [id, epoch] : leases_) out.push_back({id, epoch});
    return out;
  }

  void LeaseLoop() {
    const auto interval = std::chrono::milliseconds(cfg_.lease_ms / 3);
    // After a failed renewal, try again soon: the leases keep running out meanwhile.
    const auto retry = std::min(interval, std::chrono::milliseconds(200));
    bool failed = false;
    std::unique_lock<std::mutex> lock(lease_mu_);
    while (!lease_stop_) {
      lease_cv_.wait_for(lock, failed ? retry : interval, [&] { return lease_stop_; });
      if (lease_stop_ || stopped_) break;
      lock.unlock();
      std::vector<LeaseRef> held = LeaseSnapshot();
      std::vector<std::string> cancel;
      auto lost = store_.RenewLeases(id_, held, cfg_.lease_ms, &cancel);
      for (const auto& id : cancel) Post([this, id] { CancelRun(id); });
      failed = !lost.ok();
      if (!lost.ok()) {
        spdlog::warn("engine {}: renewing {} leases failed: {}", id_, held.size(),
                     lost.status().ToString());
      } else if (!lost->empty()) {
        std::map<std::string, int64_t> epochs;
        for (const auto& l : held) epochs[l.request_id] = l.epoch;
        for (const auto& id : *lost) {
          int64_t epoch = epochs[id];
          Post([this, id, epoch] { LoseRun(id, epoch); });
        }
      }
      lock.lock();
    }
  }

  const Config config_;
  const Config::Engine cfg_;
  std::mt19937_64 rng_{std::random_device{}()};  // retry jitter; scheduler thread only
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  const TaskRegistry& registry_;
  Database& db_;
  Redis& redis_;
  RequestStore store_;
  const std::string id_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<int> inflight_{0};
  std::atomic<int64_t> claimed_{0}, finished_{0}, tasks_run_{0}, lost_{0};
  // The engine's secrets (${secrets.<name>}): set before Start(), then read-only; their
  // values are redacted from every log line while the engine lives.
  std::shared_ptr<const json> engine_secrets_;
  std::vector<std::string> engine_secret_values_;
  ScopedSecrets engine_secret_scope_;
  HistogramFamily task_duration_{LatencyBounds()};
  HistogramFamily task_attempts_{CountBounds()};
  HistogramFamily claim_latency_{LatencyBounds()};

  // Scheduler: everything below is touched only on the scheduler thread, except the
  // queue and timers (sched_mu_).
  std::mutex sched_mu_;
  std::condition_variable sched_cv_;
  std::vector<std::function<void()>> sched_queue_;
  std::multimap<Clock::time_point, std::function<void()>> timers_;
  bool sched_stop_ = false;
  bool sched_busy_ = false;
  std::unordered_map<std::string, std::unique_ptr<RequestRun>> runs_;
  std::unordered_map<std::string, ScopedSecrets> secrets_;  // by request id

  // Claimer
  std::mutex capacity_mu_;
  std::condition_variable capacity_cv_;
  std::unordered_map<std::string, std::shared_ptr<const Template>> templates_;

  // Leases held: request id -> epoch.
  std::mutex lease_mu_;
  std::condition_variable lease_cv_;
  bool lease_stop_ = false;
  std::unordered_map<std::string, int64_t> leases_;

  WorkerPool workers_;
  Committer committer_;
  std::thread scheduler_, claimer_, lease_keeper_;
};

Engine::Engine(const Config& config, const TaskRegistry& registry, Database& db, Redis& redis)
    : impl_(std::make_unique<Impl>(config, registry, db, redis)) {}
Engine::~Engine() = default;
void Engine::Start() { impl_->Start(); }
void Engine::SetSecrets(std::shared_ptr<const json> secrets) {
  impl_->SetSecrets(std::move(secrets));
}
void Engine::Stop() { impl_->Stop(); }
const std::string& Engine::id() const { return impl_->id(); }
EngineStats Engine::Stats() const { return impl_->Stats(); }

}  // namespace wf
