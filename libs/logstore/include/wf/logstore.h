// The log store of wf-syslog: one append-only file per request, grouped in a folder per
// trace, plus one file per application for messages that carry no trace.
//
//   <dir>/traces/<trace_id>/<request_id>.log    one JSON object per line (LogRecord)
//   <dir>/traces/<trace_id>/<request_id>.seal   seal record (JSON), written once
//   <dir>/service/<app>.log                     messages without trace/request ids
//
// A sealed request log is immutable: lines that arrive for it afterwards are counted and
// dropped. Retention deletes sealed request logs by age and by a total size cap.
//
// LogStore is thread-safe: appends, seals and retention are serialised by one mutex; reads
// open the files themselves and only ever see whole lines.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wf/core/status.h"
#include "wf/syslog.h"

namespace wf {

// True for an id that may name a file: 1..128 of [A-Za-z0-9_-.], not starting with '.'.
// Trace and request ids (UUIDs) always qualify; "..", "a/b" and "" never do.
bool IsValidLogId(std::string_view id);

// Severity names as in RFC 5424: emerg alert crit err warning notice info debug.
const char* SeverityName(int severity);
// "err", "error", "warning", "warn", "3"... -> 0..7; nullopt for anything else.
std::optional<int> ParseSeverity(std::string_view text);

// An RFC 3339 timestamp ("2024-05-01T10:00:00.123+02:00") as microseconds since the epoch.
std::optional<int64_t> ParseRfc3339Micros(std::string_view text);
// Microseconds since the epoch as "2024-05-01T08:00:00.123000Z" (fixed width, sortable).
std::string FormatRfc3339Micros(int64_t micros);

// One stored line.
struct LogRecord {
  std::string ts;  // UTC, FormatRfc3339Micros; the sender's time when it sent one in RFC 3339
  std::string host;
  std::string app;
  std::string pid;
  int severity = 6;
  std::string msgid;
  std::string trace_id;
  std::string request_id;
  std::string task_id;
  std::string msg;

  nlohmann::json ToJson() const;
  static std::optional<LogRecord> FromJson(std::string_view line);
  // "<ts> <level> <app>[<pid>] [task] msg"
  std::string ToText() const;
};

// The record of a parsed message, ids taken from the SD element kSyslogSdId. `received_micros`
// is used when the message has no (or only an RFC 3164) timestamp.
LogRecord RecordFromSyslog(const SyslogMessage& m, int64_t received_micros);

// Which lines a query returns. Empty/unset fields do not filter.
struct LogQuery {
  std::string task_id;
  std::optional<int64_t> since_micros;  // ts >= since
  std::optional<int> max_severity;      // severity <= this (level=warning: 0..4)
  size_t limit = 0;                     // 0: all; otherwise the first `limit` lines

  bool Matches(const LogRecord& r) const;
};

struct SealRecord {
  std::string trace_id;
  std::string request_id;
  uint64_t size = 0;
  uint64_t lines = 0;
  std::string sha256;     // hex of the .log file as sealed
  std::string sealed_at;  // RFC 3339 UTC

  nlohmann::json ToJson() const;
};

enum class AppendResult { kStored, kSealed, kBadId, kIoError };

struct RetentionResult {
  int deleted_requests = 0;
  uint64_t deleted_bytes = 0;
  int sealed_stale = 0;  // unsealed logs idle for max_age, sealed by retention
};

class LogStore {
 public:
  explicit LogStore(std::string dir);

  // Creates the folders. Call once before anything else.
  Status Open();
  const std::string& dir() const { return dir_; }

  // Appends one line: to the request log when the record has a trace and a request id, to
  // the service log of its app otherwise. kBadId when an id cannot name a file; kSealed
  // (dropped) when the request log is sealed.
  AppendResult Append(const LogRecord& r);

  // Seals the request log: fsync, then writes <request_id>.seal (size, lines, sha256,
  // sealed_at) atomically. `trace_id` may be empty when the request has logged before (it is
  // looked up). Sealing twice returns the first seal. A request that never logged gets an
  // empty sealed log. NotFound when the trace is unknown and not given. *created (when
  // given) tells whether this call sealed it.
  Result<SealRecord> Seal(const std::string& trace_id, const std::string& request_id,
                          bool* created = nullptr);

  // The seal of a request: NotFound for an unknown request, FailedPrecondition when it is
  // not sealed yet.
  Result<SealRecord> GetSeal(const std::string& request_id);

  // The trace a request logs under (from the store), or NotFound.
  Result<std::string> TraceOf(const std::string& request_id);

  // Lines of one request (in file order) or of every request of a trace (merged by ts;
  // lines with equal ts keep their file order). NotFound for an unknown id.
  Result<std::vector<LogRecord>> ReadRequest(const std::string& request_id, const LogQuery& q);
  Result<std::vector<LogRecord>> ReadTrace(const std::string& trace_id, const LogQuery& q);

  // For follow: the whole lines of a request log from byte `offset`, advancing it past them.
  Result<std::vector<LogRecord>> ReadFrom(const std::string& request_id, uint64_t* offset);
  bool IsSealed(const std::string& request_id);

  // Bumped by every append and seal; WaitForChange blocks until it differs from `seen` or
  // `until` passes, and returns the current value.
  uint64_t version() const;
  uint64_t WaitForChange(uint64_t seen, std::chrono::steady_clock::time_point until);

  // Seals request logs nobody wrote to for `max_age` (when > 0), deletes sealed request
  // logs whose seal is older than `max_age`, then the oldest sealed ones until the request
  // logs take at most `max_bytes` (when > 0). Logs still written to are never deleted.
  RetentionResult RunRetention(std::chrono::system_clock::time_point now,
                               std::chrono::seconds max_age, uint64_t max_bytes);

 private:
  std::string RequestDir(const std::string& trace_id) const;
  void Remember(const std::string& request_id, const std::string& trace_id);  // mu_ held
  Result<SealRecord> SealLocked(const std::string& trace_id, const std::string& request_id,
                                bool* created);

  std::string dir_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  uint64_t version_ = 0;
  static constexpr size_t kMaxRemembered = 100000;
  std::unordered_map<std::string, std::string> trace_of_;  // request_id -> trace_id (cache)
};

}  // namespace wf
