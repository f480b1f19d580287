#include "wf/request_store.h"

#include <condition_variable>
#include <pqxx/pqxx>
#include <thread>

namespace wf {
namespace {

// RFC 3339 UTC text for a timestamptz column, or NULL.
#define WF_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

const char* kRequestColumns =
    "id::text, trace_id::text, template, template_hash, data::text, status, outputs::text, "
    "coalesce(error, ''), coalesce(owner, ''), epoch, claims, "
    "coalesce(parent_request_id::text, ''), coalesce(parent_task_id, ''), " WF_TS(
        "created_at") ", " WF_TS("started_at") ", " WF_TS("finished_at") ", " WF_TS("updated_at")
    ", cancel_requested, coalesce(rerun_of::text, ''), coalesce(submitted_by, ''), "
    "coalesce(callback_url, '')";

const char* kTaskColumns =
    "request_id::text, task_id, type, status, attempts, outputs::text, coalesce(error, ''), " WF_TS(
        "next_run_at") ", " WF_TS("started_at") ", " WF_TS("finished_at") ", " WF_TS("updated_at");

std::string Text(const pqxx::field& f) { return f.is_null() ? std::string() : f.c_str(); }

json JsonOrNull(const pqxx::field& f) {
  if (f.is_null()) return nullptr;
  return json::parse(f.c_str());
}

RequestRow ToRequest(const pqxx::row& r) {
  RequestRow row;
  row.id = Text(r[0]);
  row.trace_id = Text(r[1]);
  row.template_name = Text(r[2]);
  row.template_hash = Text(r[3]);
  row.data = JsonOrNull(r[4]);
  row.status = Text(r[5]);
  row.outputs = JsonOrNull(r[6]);
  row.error = Text(r[7]);
  row.owner = Text(r[8]);
  row.epoch = r[9].as<int64_t>();
  row.claims = r[10].as<int>();
  row.parent_request_id = Text(r[11]);
  row.parent_task_id = Text(r[12]);
  row.created_at = Text(r[13]);
  row.started_at = Text(r[14]);
  row.finished_at = Text(r[15]);
  row.updated_at = Text(r[16]);
  row.cancel_requested = r[17].as<bool>();
  row.rerun_of = Text(r[18]);
  row.submitted_by = Text(r[19]);
  row.callback_url = Text(r[20]);
  return row;
}

TaskRunRow ToTask(const pqxx::row& r) {
  TaskRunRow row;
  row.request_id = Text(r[0]);
  row.task_id = Text(r[1]);
  row.type = Text(r[2]);
  row.status = Text(r[3]);
  row.attempts = r[4].as<int>();
  row.outputs = JsonOrNull(r[5]);
  row.error = Text(r[6]);
  row.next_run_at = Text(r[7]);
  row.started_at = Text(r[8]);
  row.finished_at = Text(r[9]);
  row.updated_at = Text(r[10]);
  return row;
}

// '{a,b,c}' literal for a uuid[] parameter; ids are validated UUIDs.
std::string UuidArray(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out.push_back(',');
    out += ids[i];
  }
  out.push_back('}');
  return out;
}

std::vector<std::string> LeaseIds(const std::vector<LeaseRef>& leases) {
  std::vector<std::string> ids;
  ids.reserve(leases.size());
  for (const auto& l : leases) ids.push_back(l.request_id);
  return ids;
}

// The statements that fence engine writes join the requests they were given (as JSON
// records) with `requests`, and also name those ids in `r.id = ANY($ids)`: that makes
// the plan probe the primary key for each id. Without it a plan made from statistics of
// a smaller table (autovacuum analyses only now and then) scanned every running request
// for each record, and with 10,000 requests in flight the writes took seconds.
json LeasesJson(const std::vector<LeaseRef>& leases) {
  json arr = json::array();
  for (const auto& l : leases) arr.push_back({{"id", l.request_id}, {"epoch", l.epoch}});
  return arr;
}

}  // namespace

// Wakes the engines (NOTIFY wf_requests) once inserted requests have committed. A NOTIFY
// inside the inserting transaction would hold PostgreSQL's notification queue lock until
// that transaction's WAL flush, so concurrent submissions could not share a flush (group
// commit) and ingest was bound by one fsync per request. Here a thread of its own sends
// the notification after the commit, one for however many inserts came meanwhile: every
// committed insert is followed by a notification sent after it. The notification carries
// no data (the engines read the requests table, and poll it as a fallback), so its own
// transaction commits without waiting for the WAL flush.
class RequestStore::Notifier {
 public:
  explicit Notifier(Database& db) : db_(db) {}
  ~Notifier() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  // After an insert has committed.
  void Poke() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = true;
      if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || pending_; });
      if (!pending_) return;  // stopping, nothing left to announce
      pending_ = false;
      lock.unlock();
      // A failure only delays the pick-up until the engines' next poll.
      db_.Run([](pqxx::connection_base& c) {
        pqxx::nontransaction tx(c);
        tx.exec(
            "BEGIN; SET LOCAL synchronous_commit = off;"
            " SELECT pg_notify('wf_requests', ''); COMMIT");
      });
      lock.lock();
    }
  }

  Database& db_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;
};

RequestStore::RequestStore(Database& db) : db_(db), notifier_(std::make_unique<Notifier>(db)) {}

RequestStore::~RequestStore() = default;

Status RequestStore::EnsureTemplateVersion(const std::string& hash, const std::string& name,
                                           const json& body) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (known_versions_.count(hash)) return Status::Ok();
  }
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO template_versions (hash, name, body) VALUES ($1, $2, $3::jsonb) "
        "ON CONFLICT (hash) DO NOTHING",
        hash, name, body.dump());
    tx.commit();
  });
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    known_versions_.insert(hash);
  }
  return s;
}

namespace {

// The submit path's one statement, prepared once per connection (pqxx re-prepares it
// after a reconnect): planning it for every submission cost a fifth of the database's CPU.
constexpr const char* kInsertRequest = "wf_insert_request";

void InsertRow(pqxx::transaction_base& tx, const NewRequest& r, InsertOutcome* outcome) {
  tx.conn().prepare(
      kInsertRequest,
      "INSERT INTO requests (id, trace_id, template, template_hash, data, parent_request_id,"
      " parent_task_id, idempotency_key, request_hash, rerun_of, submitted_by, callback_url)"
      " VALUES ($1, $2, $3, $4, $5::jsonb, NULLIF($6, '')::uuid, NULLIF($7, ''), NULLIF($8, ''),"
      "   NULLIF($9, ''), NULLIF($10, '')::uuid, NULLIF($11, ''), NULLIF($12, ''))"
      " ON CONFLICT DO NOTHING RETURNING id");
  auto res =
      tx.exec_prepared(kInsertRequest, r.id, r.trace_id, r.template_name, r.template_hash,
                       r.data.dump(), r.parent_request_id, r.parent_task_id, r.idempotency_key,
                       r.request_hash, r.rerun_of, r.submitted_by, r.callback_url);
  if (!outcome) return;
  outcome->inserted = !res.empty();
  if (outcome->inserted || r.idempotency_key.empty()) return;
  auto existing = tx.exec_params(
      "SELECT id::text, trace_id::text, status, coalesce(request_hash, '') FROM requests"
      " WHERE idempotency_key = $1",
      r.idempotency_key);
  if (existing.empty()) return;
  outcome->existing_id = existing[0][0].c_str();
  outcome->existing_trace_id = existing[0][1].c_str();
  outcome->existing_status = existing[0][2].c_str();
  outcome->same_body = r.request_hash == existing[0][3].c_str();
}

}  // namespace

Status RequestStore::InsertRequest(const NewRequest& r, InsertOutcome* outcome) {
  // One statement in autocommit: committed (and flushed) when it returns, in one round
  // trip instead of three. Reading the request that holds a taken idempotency key needs
  // no transaction around it: the conflicting row is committed before the insert returns.
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::nontransaction tx(c);
    InsertRow(tx, r, outcome);
  });
  if (s.ok() && (!outcome || outcome->inserted)) notifier_->Poke();
  return s;
}

Status RequestStore::InsertRerun(const NewRequest& r, bool copy_succeeded) {
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    InsertRow(tx, r, nullptr);
    if (copy_succeeded) {
      tx.exec_params(
          "INSERT INTO task_runs (request_id, task_id, type, status, attempts, outputs, error,"
          "   started_at, finished_at, updated_at)"
          " SELECT $1, task_id, type, status, attempts, outputs, error, started_at, finished_at,"
          "   now() FROM task_runs WHERE request_id = $2 AND status = 'succeeded'",
          r.id, r.rerun_of);
    }
    tx.commit();
  });
  if (s.ok()) notifier_->Poke();
  return s;
}

Result<std::string> RequestStore::RequestCancel(const std::string& id) {
  std::string status;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    auto res = tx.exec_params(
        "UPDATE requests SET"
        "   status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END,"
        "   finished_at = CASE WHEN status = 'pending' THEN now() ELSE finished_at END,"
        "   error = CASE WHEN status = 'pending' THEN 'cancelled before it started' ELSE error END,"
        "   cancel_requested = cancel_requested OR status IN ('pending', 'running'),"
        "   updated_at = now()"
        " WHERE id = $1::uuid RETURNING status",
        id);
    if (res.empty()) return;
    status = res[0][0].c_str();
    if (status == "running") tx.exec_params("SELECT pg_notify('wf_cancel', $1)", id);
    tx.commit();
  });
  if (!s.ok()) return s;
  return status;
}

Result<std::optional<RequestRow>> RequestStore::GetRequest(const std::string& id) {
  std::optional<RequestRow> out;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params(
        std::string("SELECT ") + kRequestColumns + " FROM requests WHERE id = $1::uuid", id);
    if (!res.empty()) out = ToRequest(res[0]);
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<TaskRunRow>> RequestStore::GetTaskRuns(const std::string& request_id) {
  return LoadTaskRuns({request_id});
}

Result<std::vector<RequestRow>> RequestStore::ListRequests(const RequestFilter& f) {
  std::vector<RequestRow> out;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params(std::string("SELECT ") + kRequestColumns +
                                  " FROM requests"
                                  " WHERE ($1 = '' OR trace_id = NULLIF($1, '')::uuid)"
                                  "   AND ($2 = '' OR status = $2)"
                                  "   AND ($3 = '' OR template = $3)"
                                  "   AND ($5 = '' OR parent_request_id = NULLIF($5, '')::uuid)"
                                  "   AND ($6 = '' OR created_at >= NULLIF($6, '')::timestamptz)"
                                  "   AND ($7 = '' OR created_at < NULLIF($7, '')::timestamptz)"
                                  "   AND ($8 = '' OR (created_at, id) <"
                                  "        (NULLIF($8, '')::timestamptz, NULLIF($9, '')::uuid))"
                                  " ORDER BY created_at DESC, id DESC LIMIT $4",
                              f.trace_id, f.status, f.template_name, f.limit, f.parent_request_id,
                              f.created_after, f.created_before, f.after_created_at, f.after_id);
    for (const auto& row : res) out.push_back(ToRequest(row));
  });
  if (!s.ok()) return s;
  return out;
}

Status RequestStore::ReadGauges(StoreGauges* out) {
  return db_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    for (const auto& row :
         tx.exec("SELECT template, status, count(*) FROM requests GROUP BY 1, 2")) {
      out->by_template_status.push_back({{row[0].c_str(), row[1].c_str()}, row[2].as<int64_t>()});
    }
    auto q = tx.exec(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
        " FROM requests WHERE status = 'pending'");
    out->pending = q[0][0].as<int64_t>();
    out->oldest_pending_age_s = q[0][1].as<double>();
    for (const auto& row : tx.exec("SELECT owner, count(*) FROM requests"
                                   " WHERE status = 'running' AND owner IS NOT NULL GROUP BY 1")) {
      out->leases_by_engine.push_back({row[0].c_str(), row[1].as<int64_t>()});
    }
  });
}

Result<bool> RequestStore::InsertSignal(const std::string& request_id, const std::string& task_id,
                                        const json& outputs, const std::string& error) {
  bool inserted = false;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    auto res = tx.exec_params(
        "INSERT INTO task_signals (request_id, task_id, outputs, error)"
        " VALUES ($1::uuid, $2, NULLIF($3, 'null')::jsonb, NULLIF($4, ''))"
        " ON CONFLICT DO NOTHING RETURNING 1",
        request_id, task_id, outputs.dump(), error);
    inserted = !res.empty();
    tx.commit();
  });
  if (!s.ok()) return s;
  return inserted;
}

Result<std::optional<json>> RequestStore::GetSignal(const std::string& request_id,
                                                    const std::string& task_id) {
  std::optional<json> out;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params(
        "SELECT outputs::text, coalesce(error, '') FROM task_signals"
        " WHERE request_id = $1::uuid AND task_id = $2",
        request_id, task_id);
    if (!res.empty()) out = json{{"outputs", JsonOrNull(res[0][0])}, {"error", Text(res[0][1])}};
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<ClaimedRequest>> RequestStore::Claim(const std::string& owner, int limit,
                                                        int lease_ms, bool take_expired) {
  std::vector<ClaimedRequest> out;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    auto res = tx.exec_params(
        "WITH p AS (SELECT id, created_at AS at FROM requests WHERE status = 'pending'"
        "           ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED),"
        "     e AS (SELECT id, lease_expires_at AS at FROM requests"
        "           WHERE $4 AND status = 'running' AND lease_expires_at < now()"
        "           ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED),"
        "     c AS (SELECT id FROM (SELECT * FROM e UNION ALL SELECT * FROM p) u LIMIT $2)"
        " UPDATE requests r SET status = 'running', owner = $1, epoch = r.epoch + 1,"
        "   claims = r.claims + 1, lease_expires_at = now() + $3 * interval '1 millisecond',"
        "   started_at = coalesce(r.started_at, now()), updated_at = now()"
        " FROM c WHERE r.id = c.id"
        " RETURNING r.id::text, r.trace_id::text, r.template, r.template_hash, r.data::text,"
        "   r.epoch, r.claims, (extract(epoch FROM r.started_at) * 1000)::bigint,"
        "   r.cancel_requested, r.rerun_of IS NOT NULL,"
        "   CASE WHEN r.claims = 1 THEN extract(epoch FROM clock_timestamp() - r.created_at)"
        "   ELSE -1 END",
        owner, limit, lease_ms, take_expired);
    tx.commit();
    for (const auto& row : res) {
      ClaimedRequest cr;
      cr.id = Text(row[0]);
      cr.trace_id = Text(row[1]);
      cr.template_name = Text(row[2]);
      cr.template_hash = Text(row[3]);
      cr.data = JsonOrNull(row[4]);
      cr.epoch = row[5].as<int64_t>();
      cr.claims = row[6].as<int>();
      cr.started_at_ms = row[7].as<int64_t>();
      cr.cancel_requested = row[8].as<bool>();
      cr.is_rerun = row[9].as<bool>();
      cr.claim_latency_s = row[10].as<double>();
      out.push_back(std::move(cr));
    }
  });
  if (!s.ok()) return s;
  return out;
}

Result<json> RequestStore::LoadTemplateBody(const std::string& hash) {
  json body;
  bool found = false;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params("SELECT body::text FROM template_versions WHERE hash = $1", hash);
    if (!res.empty()) {
      body = json::parse(res[0][0].c_str());
      found = true;
    }
  });
  if (!s.ok()) return s;
  if (!found) return Status::NotFound("template version " + hash + " is not in the database");
  return body;
}

Result<std::vector<TaskRunRow>> RequestStore::LoadTaskRuns(const std::vector<std::string>& ids) {
  std::vector<TaskRunRow> out;
  if (ids.empty()) return out;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params(std::string("SELECT ") + kTaskColumns +
                                  " FROM task_runs WHERE request_id = ANY($1::uuid[])"
                                  " ORDER BY request_id, started_at NULLS LAST, task_id",
                              UuidArray(ids));
    for (const auto& row : res) out.push_back(ToTask(row));
  });
  if (!s.ok()) return s;
  return out;
}

Status RequestStore::ApplyWrites(const std::string& owner, const std::vector<StoreWrite>& writes,
                                 std::vector<bool>* accepted) {
  accepted->assign(writes.size(), false);
  if (writes.empty()) return Status::Ok();
  json fence = json::array();
  std::vector<std::string> ids;
  for (const auto& w : writes) {
    fence.push_back({{"id", w.request_id}, {"epoch", w.epoch}});
    ids.push_back(w.request_id);
  }
  return db_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    // Lock the requests this engine still owns at the presented epochs; a concurrent
    // claim skips locked rows, so ownership cannot change until this commits.
    auto owned = tx.exec_params(
        "SELECT r.id::text FROM requests r"
        " JOIN (SELECT DISTINCT id, epoch FROM jsonb_to_recordset($1::jsonb)"
        "       AS x(id uuid, epoch bigint)) x ON r.id = x.id AND r.epoch = x.epoch"
        " WHERE r.id = ANY($3::uuid[]) AND r.owner = $2 AND r.status = 'running'"
        " ORDER BY r.id FOR UPDATE OF r",
        fence.dump(), owner, UuidArray(ids));
    std::unordered_set<std::string> ok;
    for (const auto& row : owned) ok.insert(row[0].c_str());

    json tasks = json::array();
    json finishes = json::array();
    for (size_t i = 0; i < writes.size(); ++i) {
      const StoreWrite& w = writes[i];
      if (!ok.count(w.request_id)) continue;
      (*accepted)[i] = true;
      if (w.kind == StoreWrite::Kind::kTask) {
        tasks.push_back({{"ord", i},
                         {"request_id", w.request_id},
                         {"task_id", w.task_id},
                         {"type", w.type},
                         {"status", w.status},
                         {"attempts", w.attempts},
                         {"outputs", w.outputs},
                         {"error", w.error.empty() ? json(nullptr) : json(w.error)},
                         {"started", w.mark_started},
                         {"finished", w.mark_finished},
                         {"next_ms", w.next_run_in_ms >= 0 ? json(w.next_run_in_ms) : json()}});
      } else {
        finishes.push_back({{"id", w.request_id},
                            {"status", w.status},
                            {"outputs", w.outputs},
                            {"error", w.error.empty() ? json(nullptr) : json(w.error)}});
      }
    }
    if (!tasks.empty()) {
      // Several writes for one task in a batch: the last one wins, but a start in the
      // batch still sets started_at.
      tx.exec_params(
          "INSERT INTO task_runs AS t (request_id, task_id, type, status, attempts, outputs,"
          "   error, next_run_at, started_at, finished_at, updated_at)"
          " SELECT DISTINCT ON (x.request_id, x.task_id) x.request_id, x.task_id, x.type,"
          "   x.status, x.attempts, x.outputs, x.error,"
          "   now() + x.next_ms * interval '1 millisecond',"
          "   CASE WHEN bool_or(x.started) OVER (PARTITION BY x.request_id, x.task_id)"
          "     THEN now() END,"
          "   CASE WHEN x.finished THEN now() END, now()"
          " FROM jsonb_to_recordset($1::jsonb) AS x(ord int, request_id uuid, task_id text,"
          "   type text, status text, attempts int, outputs jsonb, error text, started bool,"
          "   finished bool, next_ms bigint)"
          " ORDER BY x.request_id, x.task_id, x.ord DESC"
          " ON CONFLICT (request_id, task_id) DO UPDATE SET status = excluded.status,"
          "   attempts = excluded.attempts, outputs = excluded.outputs, error = excluded.error,"
          "   next_run_at = excluded.next_run_at,"
          "   started_at = coalesce(t.started_at, excluded.started_at),"
          "   finished_at = coalesce(excluded.finished_at, t.finished_at), updated_at = now()",
          tasks.dump());
    }
    if (!finishes.empty()) {
      tx.exec_params(
          "UPDATE requests r SET status = x.status, outputs = x.outputs, error = x.error,"
          "   finished_at = now(), updated_at = now(), owner = NULL, lease_expires_at = NULL"
          " FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, status text, outputs jsonb,"
          "   error text) WHERE r.id = x.id",
          finishes.dump());
    }
    tx.commit();
  });
}

Result<std::vector<std::string>> RequestStore::RenewLeases(const std::string& owner,
                                                           const std::vector<LeaseRef>& leases,
                                                           int lease_ms,
                                                           std::vector<std::string>* cancel) {
  std::vector<std::string> lost;
  if (leases.empty()) return lost;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    auto res = tx.exec_params(
        // Rows are locked in id order, as ApplyWrites locks them, so the two never deadlock.
        "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, epoch bigint)),"
        " held AS (SELECT r.id FROM requests r JOIN x ON r.id = x.id AND r.epoch = x.epoch"
        "   WHERE r.id = ANY($4::uuid[]) AND r.owner = $2 AND r.status = 'running'"
        "   ORDER BY r.id FOR UPDATE OF r),"
        " renewed AS (UPDATE requests r"
        "   SET lease_expires_at = now() + $3 * interval '1 millisecond'"
        "   FROM held WHERE r.id = held.id RETURNING r.id, r.cancel_requested)"
        " SELECT x.id::text, 'lost' FROM x WHERE x.id NOT IN (SELECT id FROM renewed)"
        " UNION ALL SELECT id::text, 'cancel' FROM renewed WHERE cancel_requested",
        LeasesJson(leases).dump(), owner, lease_ms, UuidArray(LeaseIds(leases)));
    tx.commit();
    for (const auto& row : res) {
      if (std::string(row[1].c_str()) == "lost") {
        lost.push_back(row[0].c_str());
      } else if (cancel) {
        cancel->push_back(row[0].c_str());
      }
    }
  });
  if (!s.ok()) return s;
  return lost;
}

Status RequestStore::ReleaseLeases(const std::string& owner, const std::vector<LeaseRef>& leases) {
  if (leases.empty()) return Status::Ok();
  return db_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "WITH held AS (SELECT r.id FROM requests r"
        "   JOIN jsonb_to_recordset($1::jsonb) AS x(id uuid, epoch bigint)"
        "     ON r.id = x.id AND r.epoch = x.epoch"
        "   WHERE r.id = ANY($3::uuid[]) AND r.owner = $2 AND r.status = 'running'"
        "   ORDER BY r.id FOR UPDATE OF r)"
        " UPDATE requests r SET owner = NULL, lease_expires_at = now() - interval '1 second',"
        "   claims = greatest(r.claims - 1, 0), updated_at = now()"
        " FROM held WHERE r.id = held.id",
        LeasesJson(leases).dump(), owner, UuidArray(LeaseIds(leases)));
    tx.commit();
  });
}

Result<std::vector<CallbackJob>> RequestStore::ClaimCallbacks(const std::string& owner, int limit,
                                                              int lease_ms) {
  std::vector<CallbackJob> out;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    out.clear();
    pqxx::work tx(c);
    auto res = tx.exec_params(
        "WITH due AS ("
        "  SELECT request_id FROM callbacks"
        "  WHERE status = 'pending' AND next_attempt_at <= now()"
        "    AND (lease_until IS NULL OR lease_until < now())"
        "  ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " UPDATE callbacks cb SET lease_owner = $1,"
        "   lease_until = now() + make_interval(secs => $3::double precision / 1000)"
        " FROM due, requests r"
        " WHERE cb.request_id = due.request_id AND r.id = cb.request_id"
        " RETURNING cb.request_id::text, cb.url, cb.attempts, r.trace_id::text, r.template,"
        "   r.status, r.outputs::text, coalesce(r.error, ''), " WF_TS("r.finished_at") ","
        "   coalesce(r.rerun_of::text, '')",
        owner, limit, lease_ms);
    for (const auto& row : res) {
      CallbackJob job;
      job.request_id = row[0].c_str();
      job.url = row[1].c_str();
      job.attempts = row[2].as<int>();
      job.payload = {{"request_id", job.request_id},  {"trace_id", Text(row[3])},
                     {"template", Text(row[4])},      {"status", Text(row[5])},
                     {"outputs", JsonOrNull(row[6])}, {"error", Text(row[7])},
                     {"finished_at", Text(row[8])}};
      if (!Text(row[9]).empty()) job.payload["rerun_of"] = Text(row[9]);
      out.push_back(std::move(job));
    }
    tx.commit();
  });
  if (!s.ok()) return s;
  return out;
}

Status RequestStore::RecordCallbackAttempt(const std::string& owner, const CallbackJob& job,
                                           const CallbackAttempt& a, int64_t retry_in_ms,
                                           int max_attempts) {
  const int attempt = job.attempts + 1;
  const bool delivered = a.error.empty();
  const char* status = delivered ? "delivered" : (attempt >= max_attempts ? "failed" : "pending");
  json entry = {{"attempt", attempt}, {"duration_ms", a.duration_ms}};
  if (a.http_status) entry["http_status"] = a.http_status;
  if (!delivered) entry["error"] = a.error;
  return db_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    // The history keeps the last 20 attempts, each stamped with the database's clock.
    tx.exec_params(
        "UPDATE callbacks SET attempts = $3, status = $4,"
        "   last_error = NULLIF($5, ''),"
        "   next_attempt_at = now() + make_interval(secs => $6::double precision / 1000),"
        "   delivered_at = CASE WHEN $4 = 'delivered' THEN now() END,"
        "   lease_owner = NULL, lease_until = NULL,"
        "   history = (SELECT coalesce(jsonb_agg(e ORDER BY n), '[]'::jsonb) FROM ("
        "     SELECT e, n FROM jsonb_array_elements(history || jsonb_build_array("
        "       $7::jsonb || jsonb_build_object('at', " WF_TS("now()") "))) WITH ORDINALITY AS x(e, n)"
        "     ORDER BY n DESC LIMIT 20) last)"
        " WHERE request_id = $1::uuid AND lease_owner = $2",
        job.request_id, owner, attempt, status, a.error, delivered ? 0 : retry_in_ms,
        entry.dump());
    tx.commit();
  });
}

Result<json> RequestStore::GetCallback(const std::string& request_id) {
  json out = nullptr;
  Status s = db_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params(
        "SELECT url, status, attempts, coalesce(last_error, ''), " WF_TS(
            "next_attempt_at") ", " WF_TS("delivered_at") ", history::text"
        " FROM callbacks WHERE request_id = $1::uuid",
        request_id);
    if (res.empty()) return;
    const auto& row = res[0];
    out = {{"url", Text(row[0])},
           {"status", Text(row[1])},
           {"attempts", row[2].as<int>()},
           {"history", JsonOrNull(row[6])}};
    if (!Text(row[3]).empty()) out["last_error"] = Text(row[3]);
    if (Text(row[1]) == "pending") out["next_attempt_at"] = Text(row[4]);
    if (!Text(row[5]).empty()) out["delivered_at"] = Text(row[5]);
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace wf
