// Requests, task runs and template versions in PostgreSQL.
//
// The API side inserts and reads; the engine side claims, writes task transitions in
// fenced batches, renews and releases leases. Every engine write presents the owner and
// fencing epoch it got from its claim; a write whose request has since been claimed by
// someone else (or finished, or released) is refused and reported as not accepted.
// Thread-safe: it only holds a Database, which is.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "wf/core/json_path.h"
#include "wf/core/status.h"
#include "wf/db.h"

namespace wf {

struct NewRequest {
  std::string id;
  std::string trace_id;
  std::string template_name;
  std::string template_hash;
  json data = json::object();
  std::string parent_request_id;  // empty when none
  std::string parent_task_id;
  std::string idempotency_key;  // empty when none
  std::string request_hash;     // with idempotency_key: hash of what was submitted
  std::string rerun_of;         // empty when none
  std::string submitted_by;     // the API token's name; empty when auth is disabled
  std::string callback_url;     // POSTed to when the request ends; empty when none
};

// What happened to a submission that carried an idempotency key.
struct InsertOutcome {
  bool inserted = true;
  std::string existing_id;  // when not inserted: the request that holds the key
  std::string existing_trace_id;
  std::string existing_status;
  bool same_body = true;  // whether that request was submitted with the same body
};

struct RequestRow {
  std::string id;
  std::string trace_id;
  std::string template_name;
  std::string template_hash;
  json data;
  std::string status;
  json outputs;  // null until the request ends
  std::string error;
  std::string owner;
  int64_t epoch = 0;
  int claims = 0;
  std::string parent_request_id;
  std::string parent_task_id;
  std::string created_at, started_at, finished_at, updated_at;  // RFC 3339 UTC, "" if unset
  bool cancel_requested = false;
  std::string rerun_of;
  std::string submitted_by;
  std::string callback_url;
};

// A callback due for delivery, claimed by one sender for a while (lease).
struct CallbackJob {
  std::string request_id;
  std::string url;
  int attempts = 0;  // attempts made before this one
  json payload;      // what is POSTed: the request's final status and outputs
};

// One delivery attempt's result.
struct CallbackAttempt {
  long http_status = 0;  // 0 when no answer came
  std::string error;     // empty when delivered
  int64_t duration_ms = 0;
};

struct TaskRunRow {
  std::string request_id;
  std::string task_id;
  std::string type;
  std::string status;
  int attempts = 0;
  json outputs;
  std::string error;
  std::string next_run_at, started_at, finished_at, updated_at;
};

struct RequestFilter {
  std::string trace_id;
  std::string status;
  std::string template_name;
  std::string parent_request_id;
  std::string created_after;   // inclusive, RFC 3339
  std::string created_before;  // exclusive, RFC 3339
  // Keyset pagination: only requests older than this (created_at, id), newest first.
  std::string after_created_at;
  std::string after_id;
  int limit = 50;
};

// A request an engine has just claimed.
struct ClaimedRequest {
  std::string id;
  std::string trace_id;
  std::string template_name;
  std::string template_hash;
  json data;
  int64_t epoch = 0;
  int claims = 0;
  int64_t started_at_ms = 0;  // when the request first started (Unix ms), for its deadline
  bool cancel_requested = false;
  bool is_rerun = false;        // a re-run may start with task runs copied from the original
  double claim_latency_s = -1;  // first claims: seconds from submission to this claim
};

// One fenced write. kTask upserts a task run; kFinish ends the request.
struct StoreWrite {
  enum class Kind { kTask, kFinish };
  Kind kind = Kind::kTask;
  std::string request_id;
  std::string trace_id;  // only for the ids of log lines; not written
  int64_t epoch = 0;
  // kTask
  std::string task_id;
  std::string type;
  std::string status;  // also the request's final status for kFinish
  int attempts = 0;
  json outputs;  // null for none
  std::string error;
  bool mark_started = false;    // set started_at to now if unset
  bool mark_finished = false;   // set finished_at to now
  int64_t next_run_in_ms = -1;  // >= 0: next_run_at = now + this
};

struct LeaseRef {
  std::string request_id;
  int64_t epoch = 0;
};

// What the database says about the queue and the fleet, read at metrics scrape time.
struct StoreGauges {
  std::vector<std::pair<std::pair<std::string, std::string>, int64_t>> by_template_status;
  int64_t pending = 0;
  double oldest_pending_age_s = 0;
  std::vector<std::pair<std::string, int64_t>> leases_by_engine;
};

class RequestStore {
 public:
  explicit RequestStore(Database& db);
  ~RequestStore();

  // --- API side ---
  // Records a template version once per process (INSERT ... ON CONFLICT DO NOTHING).
  Status EnsureTemplateVersion(const std::string& hash, const std::string& name, const json& body);
  // Inserts the request; with an idempotency key that is already taken, inserts nothing
  // and says which request holds it.
  Status InsertRequest(const NewRequest& request, InsertOutcome* outcome = nullptr);
  // Inserts a re-run of `original`; with `copy_succeeded`, the original's succeeded task
  // runs are copied so they are not run again. One transaction.
  Status InsertRerun(const NewRequest& rerun, bool copy_succeeded);
  // Cancels a pending request at once, or asks the engine that owns a running one to
  // cancel it (NOTIFY wf_cancel). Returns the request's status afterwards, or "" when it
  // does not exist.
  Result<std::string> RequestCancel(const std::string& id);
  Result<std::optional<RequestRow>> GetRequest(const std::string& id);
  Result<std::vector<TaskRunRow>> GetTaskRuns(const std::string& request_id);
  Result<std::vector<RequestRow>> ListRequests(const RequestFilter& filter);

  // Records the signal for a task (outputs, or an error); false when the task already
  // has one.
  Result<bool> InsertSignal(const std::string& request_id, const std::string& task_id,
                            const json& outputs, const std::string& error);
  // The signal of a task: {"outputs": ..., "error": ...}, or nullopt when none yet.
  Result<std::optional<json>> GetSignal(const std::string& request_id, const std::string& task_id);

  // Counts by template and status, queue depth and age, leases by engine: one read-only
  // transaction (the counts scan the requests table; scrape accordingly).
  Status ReadGauges(StoreGauges* out);

  // --- engine side ---
  // Claims up to `limit` pending requests or (with `take_expired`) requests whose lease
  // expired, for `owner`, bumping the fencing epoch. FOR UPDATE SKIP LOCKED: concurrent
  // engines never claim the same request.
  Result<std::vector<ClaimedRequest>> Claim(const std::string& owner, int limit, int lease_ms,
                                            bool take_expired = true);
  Result<json> LoadTemplateBody(const std::string& hash);
  Result<std::vector<TaskRunRow>> LoadTaskRuns(const std::vector<std::string>& request_ids);
  // Applies the writes in one transaction. `accepted[i]` says whether write i was applied
  // (false: the request is no longer owned by `owner` at that epoch).
  Status ApplyWrites(const std::string& owner, const std::vector<StoreWrite>& writes,
                     std::vector<bool>* accepted);
  // Extends the leases still held; returns the ids that are no longer held, and in
  // `cancel` (when given) the held ones whose cancellation was asked for.
  Result<std::vector<std::string>> RenewLeases(const std::string& owner,
                                               const std::vector<LeaseRef>& leases, int lease_ms,
                                               std::vector<std::string>* cancel = nullptr);
  // Gives the leases up so another engine can take the requests at once. A release is a
  // clean hand-over, so it does not count towards the claims that quarantine a request.
  Status ReleaseLeases(const std::string& owner, const std::vector<LeaseRef>& leases);

  // --- callbacks (any engine delivers them) ---
  // Leases up to `limit` callbacks that are due to `owner` for `lease_ms`.
  Result<std::vector<CallbackJob>> ClaimCallbacks(const std::string& owner, int limit,
                                                  int lease_ms);
  // Records an attempt: delivered when `a.error` is empty; otherwise retried after
  // `retry_in_ms`, or failed for good when that was attempt `max_attempts`.
  Status RecordCallbackAttempt(const std::string& owner, const CallbackJob& job,
                               const CallbackAttempt& a, int64_t retry_in_ms, int max_attempts);
  // The callback of a request as the API shows it, or null when it has none yet.
  Result<json> GetCallback(const std::string& request_id);

 private:
  class Notifier;

  Database& db_;
  std::mutex mu_;
  std::unordered_set<std::string> known_versions_;
  std::unique_ptr<Notifier> notifier_;  // wakes the engines after inserts
};

}  // namespace wf
