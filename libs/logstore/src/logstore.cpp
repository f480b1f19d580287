#include "wf/logstore.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace wf {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::array<const char*, 8> kSeverityNames = {"emerg",   "alert",  "crit", "err",
                                                       "warning", "notice", "info", "debug"};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::string NowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  return FormatRfc3339Micros(
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count());
}

// Writes all of `data` to `fd`; false on error.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Status IoError(const std::string& what, const std::string& path) {
  return Status::Internal(what + " " + path + ": " + std::strerror(errno));
}

void FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// The whole lines of `path` from byte `offset`; *end is set past the last whole line.
Status ReadLines(const std::string& path, uint64_t offset, std::vector<std::string>* lines,
                 uint64_t* end) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("no log " + path);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t last = data.rfind('\n');
  *end = offset;
  if (last == std::string::npos) return Status::Ok();
  *end = offset + last + 1;
  size_t start = 0;
  while (start <= last) {
    const size_t nl = data.find('\n', start);
    lines->emplace_back(data.substr(start, nl - start));
    start = nl + 1;
  }
  return Status::Ok();
}

std::string ServiceFileName(const std::string& app) {
  if (app.empty()) return "unknown";
  std::string out;
  for (char c : app.substr(0, 48)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' ||
                    c == '_' || c == '.';
    out.push_back(ok ? c : '_');
  }
  if (out[0] == '.') out[0] = '_';
  return out;
}

std::optional<SealRecord> ParseSeal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  SealRecord s;
  try {
    s.trace_id = j.value("trace_id", "");
    s.request_id = j.value("request_id", "");
    s.size = j.value("size", uint64_t{0});
    s.lines = j.value("lines", uint64_t{0});
    s.sha256 = j.value("sha256", "");
    s.sealed_at = j.value("sealed_at", "");
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return s;
}

}  // namespace

bool IsValidLogId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' || c == '_' ||
           c == '.';
  });
}

const char* SeverityName(int severity) {
  return kSeverityNames[static_cast<size_t>(std::clamp(severity, 0, 7))];
}

std::optional<int> ParseSeverity(std::string_view text) {
  if (text.size() == 1 && text[0] >= '0' && text[0] <= '7') return text[0] - '0';
  for (size_t i = 0; i < kSeverityNames.size(); ++i) {
    if (text == kSeverityNames[i]) return static_cast<int>(i);
  }
  if (text == "emergency") return 0;
  if (text == "critical") return 2;
  if (text == "error") return 3;
  if (text == "warn") return 4;
  return std::nullopt;
}

std::optional<int64_t> ParseRfc3339Micros(std::string_view t) {
  // YYYY-MM-DDThh:mm:ss[.f{1,9}](Z|+hh:mm|-hh:mm)
  auto num = [&](size_t at, size_t n, int* v) {
    if (at + n > t.size()) return false;
    *v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (!IsDigit(t[i])) return false;
      *v = *v * 10 + (t[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, s;
  if (!num(0, 4, &y) || t.size() < 20 || t[4] != '-' || !num(5, 2, &mo) || t[7] != '-' ||
      !num(8, 2, &d) || (t[10] != 'T' && t[10] != 't') || !num(11, 2, &h) || t[13] != ':' ||
      !num(14, 2, &mi) || t[16] != ':' || !num(17, 2, &s)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  size_t i = 19;
  int64_t frac = 0;
  if (i < t.size() && t[i] == '.') {
    ++i;
    const size_t start = i;
    int64_t scale = 100000;
    while (i < t.size() && IsDigit(t[i])) {
      if (i - start >= 9) return std::nullopt;
      frac += (t[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start) return std::nullopt;
  }
  int64_t offset_s = 0;
  if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
    ++i;
  } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
    int oh, om;
    if (!num(i + 1, 2, &oh) || i + 3 >= t.size() || t[i + 3] != ':' || !num(i + 4, 2, &om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = (t[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != t.size()) return std::nullopt;
  const int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + std::min(s, 59) - offset_s;
  return secs * 1000000 + frac;
}

std::string FormatRfc3339Micros(int64_t micros) {
  int64_t secs = micros / 1000000;
  int64_t us = micros % 1000000;
  if (us < 0) {
    us += 1000000;
    secs -= 1;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(us));
  return buf;
}

json LogRecord::ToJson() const {
  return json{{"ts", ts},
              {"host", host},
              {"app", app},
              {"pid", pid},
              {"severity", severity},
              {"level", SeverityName(severity)},
              {"msgid", msgid},
              {"trace_id", trace_id},
              {"request_id", request_id},
              {"task_id", task_id},
              {"msg", msg}};
}

std::optional<LogRecord> LogRecord::FromJson(std::string_view line) {
  const json j = json::parse(line, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  LogRecord r;
  try {
    r.ts = j.value("ts", "");
    r.host = j.value("host", "");
    r.app = j.value("app", "");
    r.pid = j.value("pid", "");
    r.severity = j.value("severity", 6);
    r.msgid = j.value("msgid", "");
    r.trace_id = j.value("trace_id", "");
    r.request_id = j.value("request_id", "");
    r.task_id = j.value("task_id", "");
    r.msg = j.value("msg", "");
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return r;
}

std::string LogRecord::ToText() const {
  std::string out = ts + " " + SeverityName(severity) + " " + (app.empty() ? "-" : app);
  if (!pid.empty()) out += "[" + pid + "]";
  if (!task_id.empty()) out += " [" + task_id + "]";
  out += " ";
  // One record, one line: line breaks inside the message are shown escaped.
  for (char c : msg) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\0') {
      out += "\\0";
    } else {
      out += c;
    }
  }
  return out;
}

LogRecord RecordFromSyslog(const SyslogMessage& m, int64_t received_micros) {
  LogRecord r;
  const std::optional<int64_t> sent = ParseRfc3339Micros(m.timestamp);
  r.ts = FormatRfc3339Micros(sent ? *sent : received_micros);
  r.host = m.hostname;
  r.app = m.app_name;
  r.pid = m.proc_id;
  r.severity = m.severity;
  r.msgid = m.msg_id;
  r.trace_id = m.Param(kSyslogSdId, "trace_id");
  r.request_id = m.Param(kSyslogSdId, "request_id");
  r.task_id = m.Param(kSyslogSdId, "task_id");
  r.msg = m.message;
  return r;
}

bool LogQuery::Matches(const LogRecord& r) const {
  if (!task_id.empty() && r.task_id != task_id) return false;
  if (max_severity && r.severity > *max_severity) return false;
  if (since_micros) {
    const auto ts = ParseRfc3339Micros(r.ts);
    if (!ts || *ts < *since_micros) return false;
  }
  return true;
}

json SealRecord::ToJson() const {
  return json{{"sealed", true}, {"trace_id", trace_id}, {"request_id", request_id}, {"size", size},
              {"lines", lines}, {"sha256", sha256},     {"sealed_at", sealed_at}};
}

LogStore::LogStore(std::string dir) : dir_(std::move(dir)) {}

Status LogStore::Open() {
  std::error_code ec;
  fs::create_directories(fs::path(dir_) / "traces", ec);
  if (ec) return Status::Internal("cannot create " + dir_ + "/traces: " + ec.message());
  fs::create_directories(fs::path(dir_) / "service", ec);
  if (ec) return Status::Internal("cannot create " + dir_ + "/service: " + ec.message());
  return Status::Ok();
}

std::string LogStore::RequestDir(const std::string& trace_id) const {
  return dir_ + "/traces/" + trace_id;
}

AppendResult LogStore::Append(const LogRecord& r) {
  std::string path;
  const bool has_trace = !r.trace_id.empty(), has_request = !r.request_id.empty();
  if ((has_trace && !IsValidLogId(r.trace_id)) || (has_request && !IsValidLogId(r.request_id))) {
    return AppendResult::kBadId;
  }
  std::string line = r.ToJson().dump(-1, ' ', false, json::error_handler_t::replace);
  line.push_back('\n');

  std::lock_guard<std::mutex> lock(mu_);
  if (has_trace && has_request) {
    const std::string dir = RequestDir(r.trace_id);
    path = dir + "/" + r.request_id + ".log";
    struct stat st;
    if (::stat((dir + "/" + r.request_id + ".seal").c_str(), &st) == 0) {
      return AppendResult::kSealed;
    }
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) return AppendResult::kIoError;
    Remember(r.request_id, r.trace_id);
  } else {
    path = dir_ + "/service/" + ServiceFileName(r.app) + ".log";
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return AppendResult::kIoError;
  const bool ok = WriteAll(fd, line);
  ::close(fd);
  if (!ok) return AppendResult::kIoError;
  ++version_;
  changed_.notify_all();
  return AppendResult::kStored;
}

Result<std::string> LogStore::TraceOf(const std::string& request_id) {
  if (!IsValidLogId(request_id)) return Status::Invalid("invalid request id");
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = trace_of_.find(request_id);
    if (it != trace_of_.end()) return it->second;
  }
  // Not seen by this process: look on disk, without holding up appends meanwhile.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(dir_) / "traces", ec)) {
    std::error_code ec2;
    if (fs::exists(entry.path() / (request_id + ".log"), ec2) ||
        fs::exists(entry.path() / (request_id + ".seal"), ec2)) {
      const std::string trace = entry.path().filename().string();
      std::lock_guard<std::mutex> lock(mu_);
      Remember(request_id, trace);
      return trace;
    }
  }
  return Status::NotFound("no logs for request " + request_id);
}

void LogStore::Remember(const std::string& request_id, const std::string& trace_id) {
  // A cache: bounded, and rebuilt from the disk on a miss.
  if (trace_of_.size() >= kMaxRemembered) trace_of_.clear();
  trace_of_[request_id] = trace_id;
}

Result<SealRecord> LogStore::Seal(const std::string& trace_id, const std::string& request_id,
                                  bool* created) {
  if (created != nullptr) *created = false;
  if (!IsValidLogId(request_id)) return Status::Invalid("invalid request id");
  if (!trace_id.empty() && !IsValidLogId(trace_id)) return Status::Invalid("invalid trace id");
  std::string trace = trace_id;
  if (trace.empty()) {
    auto found = TraceOf(request_id);
    if (!found.ok()) return found.status();
    trace = *found;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return SealLocked(trace, request_id, created);
}

Result<SealRecord> LogStore::SealLocked(const std::string& trace, const std::string& request_id,
                                        bool* created) {
  const std::string dir = RequestDir(trace);
  const std::string log_path = dir + "/" + request_id + ".log";
  const std::string seal_path = dir + "/" + request_id + ".seal";
  if (auto existing = ParseSeal(seal_path)) return *existing;
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) return IoError("cannot create", dir);
  Remember(request_id, trace);

  const int fd = ::open(log_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return IoError("cannot open", log_path);
  if (::fsync(fd) != 0) {
    Status s = IoError("cannot fsync", log_path);
    ::close(fd);
    return s;
  }
  SealRecord seal;
  seal.trace_id = trace;
  seal.request_id = request_id;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::array<char, 65536> buf;
  while (true) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = IoError("cannot read", log_path);
      EVP_MD_CTX_free(ctx);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(n));
    seal.size += static_cast<uint64_t>(n);
    seal.lines += static_cast<uint64_t>(std::count(buf.data(), buf.data() + n, '\n'));
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_DigestFinal_ex(ctx, digest, &digest_len);
  EVP_MD_CTX_free(ctx);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < digest_len; ++i) {
    seal.sha256.push_back(kHex[digest[i] >> 4]);
    seal.sha256.push_back(kHex[digest[i] & 0xF]);
  }
  seal.sealed_at = NowRfc3339();

  // Written to a temporary file and renamed: a seal is either absent or complete.
  const std::string tmp = seal_path + ".tmp";
  const int sfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (sfd < 0) return IoError("cannot create", tmp);
  const bool ok = WriteAll(sfd, seal.ToJson().dump() + "\n") && ::fsync(sfd) == 0;
  ::close(sfd);
  if (!ok || ::rename(tmp.c_str(), seal_path.c_str()) != 0) {
    Status s = IoError("cannot write", seal_path);
    ::unlink(tmp.c_str());
    return s;
  }
  FsyncDir(dir);
  if (created != nullptr) *created = true;
  ++version_;
  changed_.notify_all();
  return seal;
}

Result<SealRecord> LogStore::GetSeal(const std::string& request_id) {
  auto found = TraceOf(request_id);
  if (!found.ok()) return found.status();
  const std::string& trace = *found;
  const std::string seal_path = RequestDir(trace) + "/" + request_id + ".seal";
  struct stat st;
  if (::stat(seal_path.c_str(), &st) != 0) {
    return Status(StatusCode::kFailedPrecondition, "request " + request_id + " is not sealed");
  }
  auto seal = ParseSeal(seal_path);
  if (!seal) return Status::Internal("unreadable seal record " + seal_path);
  return *seal;
}

bool LogStore::IsSealed(const std::string& request_id) { return GetSeal(request_id).ok(); }

Result<std::vector<LogRecord>> LogStore::ReadFrom(const std::string& request_id, uint64_t* offset) {
  auto trace = TraceOf(request_id);
  if (!trace.ok()) return trace.status();
  std::vector<std::string> lines;
  Status s = ReadLines(RequestDir(*trace) + "/" + request_id + ".log", *offset, &lines, offset);
  if (!s.ok()) return s;
  std::vector<LogRecord> out;
  out.reserve(lines.size());
  for (const auto& line : lines) {
    if (auto r = LogRecord::FromJson(line)) out.push_back(std::move(*r));
  }
  return out;
}

Result<std::vector<LogRecord>> LogStore::ReadRequest(const std::string& request_id,
                                                     const LogQuery& q) {
  uint64_t offset = 0;
  auto all = ReadFrom(request_id, &offset);
  if (!all.ok()) return all.status();
  std::vector<LogRecord> out;
  for (auto& r : *all) {
    if (q.limit != 0 && out.size() == q.limit) break;
    if (q.Matches(r)) out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<LogRecord>> LogStore::ReadTrace(const std::string& trace_id, const LogQuery& q) {
  if (!IsValidLogId(trace_id)) return Status::Invalid("invalid trace id");
  const fs::path dir = RequestDir(trace_id);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("no logs for trace " + trace_id);
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".log") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<LogRecord> out;
  for (const auto& file : files) {
    std::vector<std::string> lines;
    uint64_t end = 0;
    if (!ReadLines(file, 0, &lines, &end).ok()) continue;
    for (const auto& line : lines) {
      auto r = LogRecord::FromJson(line);
      if (r && q.Matches(*r)) out.push_back(std::move(*r));
    }
  }
  // ts is fixed-width UTC, so text order is time order.
  std::stable_sort(out.begin(), out.end(),
                   [](const LogRecord& a, const LogRecord& b) { return a.ts < b.ts; });
  if (q.limit != 0 && out.size() > q.limit) out.resize(q.limit);
  return out;
}

uint64_t LogStore::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

uint64_t LogStore::WaitForChange(uint64_t seen, std::chrono::steady_clock::time_point until) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_until(lock, until, [&] { return version_ != seen; });
  return version_;
}

RetentionResult LogStore::RunRetention(std::chrono::system_clock::time_point now,
                                       std::chrono::seconds max_age, uint64_t max_bytes) {
  struct Sealed {
    fs::file_time_type sealed;
    fs::path log, seal;
    uint64_t bytes;
  };
  std::lock_guard<std::mutex> lock(mu_);
  RetentionResult result;
  const auto file_now =
      fs::file_time_type::clock::now() + std::chrono::duration_cast<fs::file_time_type::duration>(
                                             now - std::chrono::system_clock::now());
  const auto cutoff = file_now - max_age;
  std::vector<Sealed> sealed;
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& trace : fs::directory_iterator(fs::path(dir_) / "traces", ec)) {
    std::error_code ec2;
    for (const auto& entry : fs::directory_iterator(trace.path(), ec2)) {
      if (entry.path().extension() != ".log") continue;
      std::error_code ec3;
      const uint64_t bytes = entry.file_size(ec3);
      total += ec3 ? 0 : bytes;
      fs::path seal = entry.path();
      seal.replace_extension(".seal");
      if (!fs::exists(seal, ec3)) {
        // A log nobody sealed and nobody wrote to for a whole retention period belongs to a
        // request that ended without a seal: seal it, so it ages out like the others.
        if (max_age.count() == 0 || entry.last_write_time(ec3) >= cutoff || ec3) continue;
        if (!SealLocked(trace.path().filename().string(), entry.path().stem().string(), nullptr)
                 .ok()) {
          continue;
        }
        ++result.sealed_stale;
      }
      sealed.push_back({fs::last_write_time(seal, ec3), entry.path(), seal, bytes});
    }
  }
  std::sort(sealed.begin(), sealed.end(),
            [](const Sealed& a, const Sealed& b) { return a.sealed < b.sealed; });
  for (const Sealed& s : sealed) {
    const bool too_old = max_age.count() > 0 && s.sealed < cutoff;
    const bool over_cap = max_bytes > 0 && total > max_bytes;
    // Oldest first: once one is young enough and the cap is met, so are all after it.
    if (!too_old && !over_cap) break;
    std::error_code rm;
    fs::remove(s.log, rm);
    fs::remove(s.seal, rm);
    total -= std::min(total, s.bytes);
    result.deleted_bytes += s.bytes;
    ++result.deleted_requests;
    trace_of_.erase(s.log.stem().string());
    fs::remove(s.log.parent_path(), rm);  // only when empty
  }
  return result;
}

}  // namespace wf
